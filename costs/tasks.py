from datetime import datetime

from celery import shared_task

from costs.attribution import recompute_since
from costs.retention import expire_old_data
from costs.rollups import rollup_pending


@shared_task(name="costs.rollup_pending")
def rollup_pending_task() -> str:
    return f"re-rolled {rollup_pending()} hours"


@shared_task(name="costs.expire_old_data")
def expire_old_data_task() -> str:
    deleted = expire_old_data()
    return "deleted " + ", ".join(f"{n} {what}" for what, n in deleted.items())


@shared_task(name="costs.recompute_since")
def recompute_since_task(since: str) -> str:
    return f"recomputed {recompute_since(datetime.fromisoformat(since))} cost records"
