from celery import shared_task

from collectors.retention import expire_ingest_batches


@shared_task(name="collectors.expire_ingest_batches")
def expire_ingest_batches_task() -> str:
    return f"deleted {expire_ingest_batches()} ingest batch records"
