from datetime import datetime

from celery import shared_task

from costs.attribution import recompute_since
from costs.pipeline import rollup_pending


@shared_task(name="costs.rollup_pending")
def rollup_pending_task() -> str:
    return f"re-rolled {rollup_pending()} hours"


@shared_task(name="costs.recompute_since")
def recompute_since_task(since: str) -> str:
    return f"recomputed {recompute_since(datetime.fromisoformat(since))} cost records"
