from celery import shared_task

from telemetry.capacity import capacity_estimates_update
from telemetry.retention import expire_old_data


@shared_task(name="telemetry.expire_old_data")
def expire_old_data_task() -> str:
    deleted = expire_old_data()
    return "deleted " + ", ".join(f"{n} {what}" for what, n in deleted.items())


@shared_task(name="telemetry.estimate_capacity")
def capacity_estimates_update_task() -> str:
    return f"{capacity_estimates_update()} deployments estimated"
