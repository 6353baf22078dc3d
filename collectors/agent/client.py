"""Posting batches to the ingest API: gzip, retries (collectors/agent/backoff.py), and
the spool when the server cannot take them."""

import gzip
import http.client
import json
import logging
import threading
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from collectors.agent.backoff import backoff_s, jittered, with_retries
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
        """Worth sending again later, the same bytes.

        No answer, server errors, "busy", a redirect (the server URL needs fixing)
        and a token the server does not accept (it may be fixed or rotated): the
        batch waits in the spool. Any other 4xx refuses the batch itself.
        """
        return (
            self.status == 0
            or self.status >= 500
            or 300 <= self.status < 400
            or self.status in (401, 403, 408, 429)
        )


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    # urllib would turn a redirected POST into a GET without the body.
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_opener = urllib.request.build_opener(_NoRedirects)


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
            with _opener.open(request, timeout=self.timeout) as response:
                return Answer(response.status, response.read().decode(errors="replace"))
        except urllib.error.HTTPError as exc:
            return Answer(exc.code, exc.read().decode(errors="replace"))
        except (OSError, ValueError, http.client.HTTPException) as exc:
            # Refused, reset, timed out, or an answer cut short: no answer at all.
            return Answer(0, f"{type(exc).__name__}: {exc}")


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
        self._waiting = False
        # Waiting on the stop event: a stop cuts a backoff short.
        self.sleep = sleep or self._stopping.wait

    def send(self, batch: dict[str, Any]) -> None:
        self.keep(batch)
        self.drain()

    def enqueue(self, batch: dict[str, Any]) -> None:
        self.keep(batch)
        self._wake.set()

    def keep(self, batch: dict[str, Any]) -> None:
        """Spool a batch without sending it now (on the way out, at SIGTERM)."""
        samples = len(batch.get("gpu_samples", [])) + len(batch.get("inference_samples", []))
        self.spool.put(batch["batch_id"], encode(batch), samples)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="shipper", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        failures = 0  # drains in a row that left batches in the spool
        while not self._stopping.is_set():
            # While the server stays away, wait longer between tries (up to 5 min).
            every = self.retry_every_s
            self._wake.wait(backoff_s(failures, every) if failures else jittered(every))
            self._wake.clear()
            try:
                self.drain()
            except Exception:  # the thread must outlive any one bad batch or disk error
                logger.exception("shipping failed; retrying")
            failures = failures + 1 if self.spool.pending() else 0

    def stop(self, timeout: float = 15.0) -> None:
        """Finish the post in flight, then stop; unsent batches stay in the spool."""
        self._stopping.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def drain(self) -> int:
        """Post spooled batches oldest first; stop at the first that must wait. Returns sent."""
        sent = 0
        while not self._stopping.is_set() and (entry := self.spool.claim_oldest()) is not None:
            body = entry.read()
            if body is None:  # gone from the disk: nothing left to send
                self.spool.release(entry, done=True)
                continue
            answer = self._post_with_retries(body)
            if answer.retryable:
                self.spool.release(entry, done=False)
                if not self._waiting:
                    logger.warning(
                        "ingest unavailable (%s); batches wait in the spool",
                        answer.status or answer.text,
                    )
                self._waiting = True
                return sent
            if self._waiting:
                logger.info("ingest reachable again; sending the spool")
                self._waiting = False
            if not answer.ok:
                # The server refused this batch's content: the same bytes cannot
                # succeed, so it is dropped, counted, and logged with the reason.
                logger.error(
                    "ingest refused batch %s (HTTP %d): %s",
                    entry.batch_id,
                    answer.status,
                    answer.text[:2000],
                )
                self.spool.add_dropped(entry.samples)
            self.spool.release(entry, done=True)
            sent += answer.ok
        return sent

    def _post_with_retries(self, body: bytes) -> Answer:
        return with_retries(
            lambda: self.client.post(body),
            self.attempts,
            self.backoff_s,
            self.sleep,
            stopping=self._stopping.is_set,
        )
