"""Every periodic job, as data, in the order `runjobs` runs them.

A job's position is its dependency order: a job may read what the jobs before it
wrote. Each beat entry expires within its own period, so a backlog behind a
stopped worker does not pile up duplicate runs.
"""

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Job:
    name: str
    task: str
    every_seconds: float


JOBS: tuple[Job, ...] = (
    Job("expire_ingest_batches", "collectors.expire_ingest_batches", 3600),
    Job("rollup_pending", "costs.rollup_pending", 60),
    Job("score_anomalies", "anomaly.score_recent", 300),
    Job("train_anomaly_models", "anomaly.train_models", 86400),
    Job("expire_old_data", "telemetry.expire_old_data", 3600),
    # Last: it reads anomalies and costs. Threshold rules read raw samples, not
    # rollups, so a breach is seen within one period of its sample arriving.
    Job("evaluate_alerts", "alerts.evaluate", 15),
    Job("expire_old_alerts", "alerts.expire_old_alerts", 3600),
    Job("expire_stale_profiling_jobs", "profiling.expire_stale_jobs", 300),
    # After the rollups: each deployment's knee from its last day of minutes.
    Job("estimate_capacity", "telemetry.estimate_capacity", 3600),
    # After the rollups and costs it reads; daily, as the issue asks.
    Job("recompute_recommendations", "recommendations.recompute", 86400),
)


def beat_schedule() -> dict[str, dict[str, Any]]:
    """The Celery beat entries, one per job."""
    return {
        job.name: {
            "task": job.task,
            "schedule": job.every_seconds,
            "options": {"expires": job.every_seconds},
        }
        for job in JOBS
    }
