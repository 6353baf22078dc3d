"""The agent's loop: collect every interval, batch by count and age, ship."""

import json
import logging
import threading
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, TextIO

from collectors.agent.client import Shipper
from collectors.agent.config import Config
from collectors.agent.profiling import ProfilingWorker
from collectors.agent.sources import Collection, SimulatedCollector, Source

logger = logging.getLogger(__name__)
AGENT_VERSION = "inferscope-agent/0.1.0"
# While the spool cannot be written, at most this many batches wait in memory.
MAX_PENDING_BATCHES = 10


class Runner:
    def __init__(
        self,
        config: Config,
        sources: Sequence[Source],
        shipper: Shipper | None,
        out: TextIO | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        profiling: ProfilingWorker | None = None,
    ) -> None:
        self.config = config
        self.sources = list(sources)
        self.shipper = shipper
        self.out = out
        self.clock = clock
        self.profiling = profiling
        self.pending = Collection()
        self.pending_since: datetime | None = None
        self.collected = 0
        self.shipping_in_background = False
        self.stop = threading.Event()

    def tick(self, ts: datetime) -> None:
        if self.pending_since is None:
            self.pending_since = ts
        before = self.pending.size
        for source in self.sources:
            try:
                source.collect(ts, self.pending)
            except Exception:  # one broken source must not stop the others
                logger.exception("source %s failed", type(source).__name__)
        self.collected += self.pending.size - before
        age = (ts - self.pending_since).total_seconds()
        if self.pending.size >= self.config.batch_max_samples or age >= self.config.batch_max_age_s:
            self.flush()

    def batch(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "schema_version": 1,
            "batch_id": f"{self.config.node}-{uuid.uuid4().hex}",
            "agent_version": AGENT_VERSION,
            "inventory": self.pending.inventory(),
            "gpu_samples": self.pending.gpu_samples,
            "inference_samples": self.pending.inference_samples,
        }
        if self.shipper is not None:
            # Cumulative, so the server learns of losses once it is reachable again.
            body["agent_stats"] = {"dropped_samples": self.shipper.spool.dropped_samples()}
        return body

    def flush(self, spool_only: bool = False) -> None:
        """Send what is pending (print it, with --dry-run); spool_only: store, don't post."""
        if self.pending.size:
            body = self.batch()
            try:
                if self.shipper is None:
                    assert self.out is not None
                    self.out.write(json.dumps(body, default=_iso, indent=2) + "\n")
                elif spool_only:
                    self.shipper.keep(body)
                elif self.shipping_in_background:
                    self.shipper.enqueue(body)
                else:
                    self.shipper.send(body)
            except OSError as exc:  # a full or failing disk: keep the samples, try again
                if self.pending.size < MAX_PENDING_BATCHES * self.config.batch_max_samples:
                    logger.error("cannot spool a batch (%s); keeping it in memory", exc)
                    return
                logger.error("cannot spool (%s); dropping %d samples", exc, self.pending.size)
        self.pending = Collection()
        self.pending_since = None

    def backfill(self, now: datetime) -> None:
        """Generate the simulated fleet's history up to `now`, in full batches."""
        simulated = [s for s in self.sources if isinstance(s, SimulatedCollector)]
        step = timedelta(seconds=self.config.interval_s)
        ts = now - timedelta(seconds=self.config.backfill_s)
        while ts < now and not self.stop.is_set():
            before = self.pending.size
            for source in simulated:
                source.collect(ts, self.pending)
            self.collected += self.pending.size - before
            if self.pending.size >= self.config.batch_max_samples:
                self.flush()
            ts += step
        self.flush()

    def run(self) -> None:
        if self.shipper is not None:
            self.shipper.start()  # also retries what an earlier run left in the spool
            self.shipping_in_background = True
        if self.profiling is not None:
            self.profiling.start(self.stop)  # a thread: a sweep never delays collection
        if self.config.backfill_s:
            self.backfill(self.clock())
        interval = self.config.interval_s
        while not self.stop.is_set():
            try:
                self.tick(self.clock())
            except Exception:  # the loop must go on: the next interval may work
                logger.exception("collection failed")
            self.stop.wait(interval - self.clock().timestamp() % interval)
        # Stopping (SIGTERM): keep what was collected, post it at the next start.
        self.flush(spool_only=True)
        if self.shipper is not None:
            self.shipper.stop()
        if self.profiling is not None:
            self.profiling.join()  # it kills a running sweep and reports "agent stopped"
        logger.info("stopped after collecting %d samples", self.collected)

    def once(self) -> bool:
        """One interval: counters need two scrapes, one interval apart. False if
        no source produced anything."""
        self.tick(self.clock())
        self.stop.wait(self.config.interval_s)
        self.tick(self.clock())
        collected = self.pending.size > 0
        self.flush()
        return collected


def _iso(value: Any) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(type(value).__name__)
