from celery import shared_task

from collectors.retention import expire_ingest_batches
from collectors.simulate import simulate_tick


@shared_task(name="collectors.simulate_tick")
def simulate_tick_task() -> str:
    return simulate_tick().summary()


@shared_task(name="collectors.expire_ingest_batches")
def expire_ingest_batches_task() -> str:
    return f"deleted {expire_ingest_batches()} ingest batch records"
