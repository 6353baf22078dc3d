import hashlib
import hmac
import json
import time

from alerts.channels.base import Message, Transport, raise_for_status
from alerts.constants import SIGNATURE_HEADER, TIMESTAMP_HEADER
from alerts.http import post


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """HMAC-SHA256 of "<timestamp>.<body>": the timestamp is signed too, so an old
    delivery cannot be replayed as new."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"sha256={mac.hexdigest()}"


class WebhookTransport(Transport):
    """A JSON POST signed with the channel's secret (see docs/alerts.md)."""

    kind = "webhook"

    def send(self, message: Message) -> None:
        body = json.dumps(message.data, sort_keys=True).encode()
        timestamp = str(int(time.time()))
        headers = {
            "Content-Type": "application/json",
            TIMESTAMP_HEADER: timestamp,
            SIGNATURE_HEADER: signature(self.channel.secret, timestamp, body),
        }
        status, text = post(self.channel.url, body, headers)
        raise_for_status(status, text, permanent=(404, 410))
