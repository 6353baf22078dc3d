"""Raw samples go after RAW_SAMPLE_RETENTION_DAYS, minute rollups after
MINUTE_ROLLUP_RETENTION_DAYS; hourly and daily rollups and costs stay."""

from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Model, Q
from django.utils import timezone

from collectors.models import GpuSample, InferenceSample
from telemetry.choices import Resolution
from telemetry.models import GpuRollup, InferenceRollup

_CHUNK = 20_000


def expire_old_data(now: datetime | None = None) -> dict[str, int]:
    """Delete expired rows in bounded chunks; returns rows deleted per table."""
    now = now or timezone.now()
    raw_cutoff = now - timedelta(days=settings.RAW_SAMPLE_RETENTION_DAYS)
    minute_cutoff = now - timedelta(days=settings.MINUTE_ROLLUP_RETENTION_DAYS)
    minute_old = Q(resolution=Resolution.MINUTE, bucket__lt=minute_cutoff)
    return {
        "gpu samples": _delete(GpuSample, Q(ts__lt=raw_cutoff)),
        "inference samples": _delete(InferenceSample, Q(ts__lt=raw_cutoff)),
        "GPU minute rollups": _delete(GpuRollup, minute_old),
        "inference minute rollups": _delete(InferenceRollup, minute_old),
    }


def _delete(model: type[Model], condition: Q) -> int:
    # Chunks keep each transaction, and the locks and WAL it holds, small.
    manager = model._default_manager
    deleted = 0
    while True:
        ids = list(manager.filter(condition).values_list("pk", flat=True)[:_CHUNK])
        if not ids:
            return deleted
        deleted += manager.filter(pk__in=ids).delete()[0]
