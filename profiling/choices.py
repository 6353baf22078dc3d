from django.db import models


class JobStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


class JobSource(models.TextChoices):
    DASHBOARD = "dashboard", "Dashboard"
    API = "api", "API"
    CLI = "cli", "Command line"


class PointStatus(models.TextChoices):
    OK = "ok", "OK"
    OOM = "oom", "Out of memory"
    UNSUPPORTED = "unsupported", "Not supported here"
    ERROR = "error", "Error"


FINISHED = (JobStatus.DONE, JobStatus.FAILED, JobStatus.CANCELLED)
