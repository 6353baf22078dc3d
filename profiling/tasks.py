from celery import shared_task

from profiling.services import expire_stale_jobs


@shared_task(name="profiling.expire_stale_jobs")
def expire_stale_jobs_task() -> str:
    return f"failed {expire_stale_jobs()} stale profiling jobs"
