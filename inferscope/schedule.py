"""Every periodic job, as data, in the order `runjobs` runs them.

A job's position is its dependency order: a job may read what the jobs before it
wrote. Each beat entry expires within its own period, so a backlog behind a
stopped worker does not pile up duplicate runs.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Job:
    name: str
    task: str
    every_seconds: float
    # Only scheduled when this setting is true (None: always).
    enabled_by: str | None = None
    # A setting that overrides every_seconds, when set.
    interval_setting: str | None = None


JOBS: tuple[Job, ...] = (Job("expire_ingest_batches", "collectors.expire_ingest_batches", 3600),)


def beat_schedule(settings: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Celery beat entries for the jobs enabled by `settings` (a name → value map)."""
    schedule = {}
    for job in JOBS:
        if job.enabled_by and not settings.get(job.enabled_by):
            continue
        every = float(settings.get(job.interval_setting or "") or job.every_seconds)
        schedule[job.name] = {
            "task": job.task,
            "schedule": every,
            "options": {"expires": every},
        }
    return schedule
