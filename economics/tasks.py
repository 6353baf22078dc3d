from celery import shared_task

from economics.services import capacity_estimates_update


@shared_task(name="economics.estimate_capacity")
def capacity_estimates_update_task() -> str:
    return f"{capacity_estimates_update()} deployments estimated"
