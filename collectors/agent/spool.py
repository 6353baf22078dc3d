"""Batches that could not be sent yet, kept on disk in order, within a byte budget.

One file per batch, named by a sequence number so that replay keeps the order
they were made in. A file is written under a temporary name and renamed, so a
crash never leaves half a batch to replay. When the budget is exceeded the
oldest batches go first (never the one being sent, never the newest), and the
samples lost that way are counted in a file, so the count survives a restart;
every batch reports the running total.

The collection loop adds batches while the shipper thread sends them: the
folder is listed once, at start, and a lock guards the index after that.
"""

import fcntl
import logging
import os
import re
import threading
from collections import deque
from dataclasses import dataclass
from pathlib import Path

logger = logging.getLogger(__name__)

_NAME = re.compile(r"^(\d{12})-(\d+)-([A-Za-z0-9._:-]+)\.json\.gz$")


class SpoolBusy(Exception):
    """The spool folder is held by another running agent."""


@dataclass(frozen=True)
class Spooled:
    path: Path
    batch_id: str
    samples: int
    size: int

    def read(self) -> bytes | None:
        try:
            return self.path.read_bytes()
        except FileNotFoundError:
            return None


class Spool:
    def __init__(self, folder: Path, max_bytes: int) -> None:
        self.folder = folder
        self.max_bytes = max_bytes
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        # Two agents on one spool would send each other's batches: the second refuses.
        self._lock_file = open(folder / ".lock", "a")  # noqa: SIM115 (held for our lifetime)
        try:
            fcntl.flock(self._lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._lock_file.close()
            raise SpoolBusy(f"another agent is using the spool {folder}") from None
        self._dropped_file = folder / "dropped-samples"
        self._lock = threading.Lock()
        self._in_flight: Path | None = None
        for draft in folder.glob(".*.tmp"):  # a crash while writing: never complete
            draft.unlink(missing_ok=True)
        entries = []
        for path in folder.iterdir():
            match = _NAME.match(path.name)
            if match:
                entries.append(
                    Spooled(path, match.group(3), int(match.group(2)), path.stat().st_size)
                )
        self._entries = deque(sorted(entries, key=lambda e: e.path.name))
        self._bytes = sum(e.size for e in self._entries)
        self._sequence = int(self._entries[-1].path.name[:12]) if self._entries else 0

    def put(self, batch_id: str, body: bytes, samples: int) -> None:
        with self._lock:
            self._sequence += 1
            final = self.folder / f"{self._sequence:012d}-{samples}-{batch_id}.json.gz"
            draft = final.with_name(f".{final.name}.tmp")
            with open(draft, "wb") as file:
                file.write(body)
                file.flush()
                os.fsync(file.fileno())
            draft.rename(final)
            self._entries.append(Spooled(final, batch_id, samples, len(body)))
            self._bytes += len(body)
            self._enforce_budget()

    def _enforce_budget(self) -> None:
        dropped = 0
        # The newest batch stays even alone over budget; the one being sent stays too.
        candidates = [e for e in list(self._entries)[:-1] if e.path != self._in_flight]
        while self._bytes > self.max_bytes and candidates:
            oldest = candidates.pop(0)
            self._entries.remove(oldest)
            self._bytes -= oldest.size
            oldest.path.unlink(missing_ok=True)
            dropped += oldest.samples
        if dropped:
            logger.error(
                "spool over its %d-byte budget: dropped the oldest batches, %d samples",
                self.max_bytes,
                dropped,
            )
            self.add_dropped(dropped)

    def add_dropped(self, count: int) -> None:
        """Count samples that will never reach the server (budget, or refused)."""
        total = self.dropped_samples() + count
        draft = self._dropped_file.with_name(".dropped-samples.tmp")
        draft.write_text(str(total))
        draft.rename(self._dropped_file)

    def dropped_samples(self) -> int:
        try:
            return int(self._dropped_file.read_text() or 0)
        except (FileNotFoundError, ValueError):
            return 0

    def claim_oldest(self) -> Spooled | None:
        """The oldest batch, protected from the budget until release()."""
        with self._lock:
            if not self._entries:
                return None
            self._in_flight = self._entries[0].path
            return self._entries[0]

    def release(self, entry: Spooled, done: bool) -> None:
        """done: sent or refused for good, so it leaves the spool."""
        with self._lock:
            self._in_flight = None
            if done and entry in self._entries:
                self._entries.remove(entry)
                self._bytes -= entry.size
                entry.path.unlink(missing_ok=True)

    def oldest(self) -> Spooled | None:
        with self._lock:
            return self._entries[0] if self._entries else None

    def pending(self) -> int:
        return len(self._entries)

    def pending_bytes(self) -> int:
        return self._bytes

    def close(self) -> None:
        self._lock_file.close()
