"""Batches that could not be sent yet, kept on disk in order, within a byte budget.

One file per batch, named by a sequence number so that replay keeps the order
they were made in. A file is written under a temporary name and renamed, so a
crash never leaves half a batch to replay. When the budget is exceeded the
oldest batches go first, and the samples lost that way are counted (in a file,
so the count survives a restart); every batch reports the running total.
"""

import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path

logger = logging.getLogger(__name__)

_NAME = re.compile(r"^(\d{12})-(\d+)-([A-Za-z0-9._:-]+)\.json\.gz$")


@dataclass(frozen=True)
class Spooled:
    path: Path
    batch_id: str
    samples: int

    def read(self) -> bytes:
        return self.path.read_bytes()


class Spool:
    def __init__(self, folder: Path, max_bytes: int) -> None:
        self.folder = folder
        self.max_bytes = max_bytes
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._dropped_file = folder / "dropped-samples"

    def _entries(self) -> list[Spooled]:
        entries = []
        for path in self.folder.iterdir():
            match = _NAME.match(path.name)
            if match:
                entries.append(Spooled(path, match.group(3), int(match.group(2))))
        return sorted(entries, key=lambda e: e.path.name)

    def put(self, batch_id: str, body: bytes, samples: int) -> None:
        entries = self._entries()
        sequence = int(entries[-1].path.name[:12]) + 1 if entries else 1
        final = self.folder / f"{sequence:012d}-{samples}-{batch_id}.json.gz"
        draft = final.with_name(f".{final.name}.tmp")
        with open(draft, "wb") as file:
            file.write(body)
            file.flush()
            os.fsync(file.fileno())
        draft.rename(final)
        self._enforce_budget()

    def _enforce_budget(self) -> None:
        entries = self._entries()
        total = sum(e.path.stat().st_size for e in entries)
        dropped = 0
        while entries and total > self.max_bytes:
            oldest = entries.pop(0)
            total -= oldest.path.stat().st_size
            oldest.path.unlink()
            dropped += oldest.samples
        if dropped:
            logger.error(
                "spool over its %d-byte budget: dropped the oldest batches, %d samples",
                self.max_bytes,
                dropped,
            )
            self._add_dropped(dropped)

    def _add_dropped(self, count: int) -> None:
        self._dropped_file.write_text(str(self.dropped_samples() + count))

    def dropped_samples(self) -> int:
        try:
            return int(self._dropped_file.read_text() or 0)
        except (FileNotFoundError, ValueError):
            return 0

    def oldest(self) -> Spooled | None:
        entries = self._entries()
        return entries[0] if entries else None

    def pending(self) -> int:
        return len(self._entries())

    def pending_bytes(self) -> int:
        return sum(e.path.stat().st_size for e in self._entries())
