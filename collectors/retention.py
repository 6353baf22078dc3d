from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from collectors.models import IngestBatch

_CHUNK = 5000


def expire_ingest_batches(now: datetime | None = None) -> int:
    """Forget batch ids older than the retention window, in bounded chunks.

    A retry of a batch that old cannot happen (agents give up far sooner), so
    the record that made it idempotent is no longer needed.
    """
    cutoff = (now or timezone.now()) - timedelta(days=settings.INGEST_BATCH_RETENTION_DAYS)
    deleted = 0
    while True:
        ids = list(
            IngestBatch.objects.filter(received_at__lt=cutoff).values_list("pk", flat=True)[:_CHUNK]
        )
        if not ids:
            return deleted
        deleted += IngestBatch.objects.filter(pk__in=ids).delete()[0]
