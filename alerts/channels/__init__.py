"""Channel kind -> transport. Adding a channel: one module here, one entry below."""

from alerts.channels.base import DeliveryError, Message, Transport
from alerts.channels.email import EmailTransport
from alerts.channels.slack import SlackTransport
from alerts.channels.webhook import WebhookTransport

TRANSPORTS: dict[str, type[Transport]] = {
    t.kind: t for t in (EmailTransport, SlackTransport, WebhookTransport)
}

__all__ = ["TRANSPORTS", "DeliveryError", "Message", "Transport"]
