"""Posting batches to the ingest API: gzip, retries with backoff and jitter, and
the spool when the server cannot take them."""

import gzip
import json
import logging
import random
import threading
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from collectors.agent.spool import Spool

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Answer:
    status: int  # 0: no answer at all (connection refused, reset, timeout)
    text: str

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def retryable(self) -> bool:
        # No answer, a server error, or "busy": the same batch may go through later.
        return self.status == 0 or self.status >= 500 or self.status == 429


def encode(batch: dict[str, Any]) -> bytes:
    def default(value: Any) -> str:
        if isinstance(value, datetime):
            return value.isoformat()
        raise TypeError(f"cannot encode {type(value).__name__}")

    return gzip.compress(json.dumps(batch, default=default).encode(), compresslevel=6)


class IngestClient:
    def __init__(self, url: str, token: str, timeout: float = 10.0) -> None:
        self.url = url.rstrip("/") + "/api/v1/ingest"
        self.token = token
        self.timeout = timeout

    def post(self, body: bytes) -> Answer:
        request = urllib.request.Request(
            self.url,
            data=body,
            method="POST",
            headers={
                "Authorization": f"Bearer {self.token}",
                "Content-Type": "application/json",
                "Content-Encoding": "gzip",
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310
                return Answer(response.status, response.read().decode(errors="replace"))
        except urllib.error.HTTPError as exc:
            return Answer(exc.code, exc.read().decode(errors="replace"))
        except (OSError, ValueError) as exc:  # URLError, timeouts, resets
            return Answer(0, str(exc))


class Shipper:
    """Sends batches in the order they were made; what cannot go now waits in the spool.

    In the agent's loop a thread does the sending (start/enqueue/stop), so a slow
    or absent server never delays collection; send() is the same, synchronously.
    """

    def __init__(
        self,
        client: IngestClient,
        spool: Spool,
        attempts: int = 3,
        backoff_s: float = 0.5,
        sleep: Callable[[float], None] | None = None,
        retry_every_s: float = 5.0,
    ) -> None:
        self.client = client
        self.spool = spool
        self.attempts = attempts
        self.backoff_s = backoff_s
        self.retry_every_s = retry_every_s
        self._stopping = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        # Waiting on the stop event: a stop cuts a backoff short.
        self.sleep = sleep or self._stopping.wait

    def send(self, batch: dict[str, Any]) -> None:
        self._spool(batch)
        self.drain()

    def enqueue(self, batch: dict[str, Any]) -> None:
        self._spool(batch)
        self._wake.set()

    def _spool(self, batch: dict[str, Any]) -> None:
        samples = len(batch.get("gpu_samples", [])) + len(batch.get("inference_samples", []))
        self.spool.put(batch["batch_id"], encode(batch), samples)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="shipper", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stopping.is_set():
            self._wake.wait(self.retry_every_s)
            self._wake.clear()
            if self.spool.pending():
                self.drain()

    def stop(self, timeout: float = 15.0) -> None:
        """Finish the post in flight, then stop; unsent batches stay in the spool."""
        self._stopping.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def drain(self) -> int:
        """Post spooled batches oldest first; stop at the first that must wait. Returns sent."""
        sent = 0
        while not self._stopping.is_set() and (entry := self.spool.oldest()) is not None:
            answer = self._post_with_retries(entry.read())
            if answer.retryable:
                logger.warning(
                    "ingest unavailable (%s); %d batch(es) wait in the spool",
                    answer.status or answer.text,
                    self.spool.pending(),
                )
                return sent
            if not answer.ok:
                # The server refused this batch (bad token, bad payload): retrying the
                # same bytes cannot succeed, so it is dropped with the server's reason.
                logger.error(
                    "ingest refused batch %s (HTTP %d): %s",
                    entry.batch_id,
                    answer.status,
                    answer.text[:2000],
                )
            entry.path.unlink()
            sent += answer.ok
        return sent

    def _post_with_retries(self, body: bytes) -> Answer:
        answer = self.client.post(body)
        for attempt in range(1, self.attempts):
            if not answer.retryable or self._stopping.is_set():
                break
            # Exponential backoff with full jitter, so a fleet does not retry in step.
            self.sleep(random.uniform(0, self.backoff_s * 2**attempt))
            answer = self.client.post(body)
        return answer
