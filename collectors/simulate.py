"""The simulated fleet fed from inside the web app (`make run` with no agent):
each beat tick stores, through the ingest service, every interval since the
last simulated sample."""

from dataclasses import dataclass
from datetime import datetime

import msgspec
from django.conf import settings
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from collectors.agent.simulated import DEPLOYMENTS, GPUS, batch_body
from collectors.ingest import ingest_batch
from collectors.models import Agent, GpuSample
from collectors.services import agent_create

SIMULATOR_AGENT = "simulator"


@dataclass(frozen=True)
class TickResult:
    batches: int
    samples: int

    def summary(self) -> str:
        return f"simulated {self.samples} samples in {self.batches} batches"


def simulator_agent() -> Agent:
    agent = Agent.objects.filter(name=SIMULATOR_AGENT).first()
    return agent or agent_create(SIMULATOR_AGENT)[0]


def simulate_tick(now: datetime | None = None) -> TickResult:
    """Feed every interval since the last simulated sample (at most the backfill window)."""
    interval = float(settings.SIMULATE_INTERVAL_SECONDS)
    now_s = (now or timezone.now()).timestamp()
    stop = now_s - now_s % interval + interval  # up to and including the current boundary
    earliest = now_s - now_s % interval - settings.SIMULATE_BACKFILL_HOURS * 3600
    per_interval = len(GPUS) + len(DEPLOYMENTS)
    chunk = interval * max(1, settings.INGEST_MAX_SAMPLES // per_interval)
    agent_pk = simulator_agent().pk
    batches = samples = 0
    while True:
        # A transaction per batch, so a day of backfill never holds SQLite's write
        # lock for long; the row lock orders two workers that picked up two beats.
        with transaction.atomic():
            agent = Agent.objects.select_for_update().get(pk=agent_pk)
            last = GpuSample.objects.filter(gpu__uuid=GPUS[0].uuid).aggregate(m=Max("ts"))["m"]
            start = earliest if last is None else max(earliest, last.timestamp() + interval)
            if start >= stop:
                break
            body = msgspec.json.encode(batch_body(start, min(stop, start + chunk), interval))
            result = ingest_batch(agent, body, now=now)
        batches += 1
        samples += result.gpu_samples + result.inference_samples
    return TickResult(batches, samples)
