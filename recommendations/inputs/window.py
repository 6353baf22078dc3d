"""Reads every rule shares over its window: cost per deployment, each deployment's GPUs
and the latest profiling sweep. Hourly traffic and GPU rows come from telemetry.hourly."""

from collections import defaultdict
from collections.abc import Iterable
from decimal import Decimal

from collectors.models import Deployment, Gpu
from costs.spend import cost_cells
from profiling.choices import JobStatus
from profiling.models import ProfilingJob, ProfilingResult
from recommendations.context import Context

Sweep = tuple[ProfilingJob, list[ProfilingResult]]


def deployment_costs(ctx: Context, ids: Iterable[int] | None = None) -> dict[int, Decimal]:
    """$ attributed to each deployment over the window (its GPUs' serving hours)."""
    cells = cost_cells(
        ctx.start,
        ctx.end,
        ("deployment",),
        deployment_ids=None if ids is None else list(ids),
        deployed=True,
    )
    return {c.deployment_id: c.usd for c in cells if c.usd and c.deployment_id is not None}


def deployment_gpus(ids: Iterable[int]) -> dict[int, list[Gpu]]:
    out: dict[int, list[Gpu]] = defaultdict(list)
    through = Deployment.gpus.through.objects.filter(deployment_id__in=list(ids)).select_related(
        "gpu", "gpu__node"
    )
    for link in through:
        out[link.deployment_id].append(link.gpu)
    return out


def latest_profiling(deployment_id: int) -> Sweep | None:
    """The newest finished sweep run for this deployment, with its points in order."""
    return latest_profilings([deployment_id]).get(deployment_id)


def latest_profilings(ids: Iterable[int]) -> dict[int, Sweep]:
    """latest_profiling() for many deployments in two queries: a rule gathers the sweeps
    of every candidate before it decides which ones it needs."""
    jobs: dict[int, ProfilingJob] = {}
    done = ProfilingJob.objects.filter(deployment_id__in=list(ids), status=JobStatus.DONE)
    for job in done.order_by("-finished_at", "-id"):
        if job.deployment_id is not None:
            jobs.setdefault(job.deployment_id, job)
    results: dict[int, list[ProfilingResult]] = defaultdict(list)
    by_job = {job.pk: dep for dep, job in jobs.items()}
    for r in ProfilingResult.objects.filter(job_id__in=list(by_job)).order_by("index"):
        results[r.job_id].append(r)
    return {dep: (job, results[job.pk]) for dep, job in jobs.items()}
