from celery import shared_task

from recommendations.services import recommendations_recompute


@shared_task(name="recommendations.recompute")
def recommendations_recompute_task() -> str:
    return str(recommendations_recompute())
