"""Reads every rule shares over its window: cost per deployment, hourly traffic and
GPU rollups, latency percentiles and the latest profiling sweep."""

from collections import defaultdict
from collections.abc import Iterable, Sequence
from decimal import Decimal

from django.db.models import Sum

from collectors.models import Deployment, Gpu
from costs.models import CostRecord
from profiling.choices import JobStatus
from profiling.models import ProfilingJob, ProfilingResult
from recommendations.context import Context
from telemetry.choices import Resolution
from telemetry.histograms import merge, quantile
from telemetry.models import GpuRollup, InferenceRollup

HISTOGRAMS = ("ttft_hist", "itl_hist", "e2e_hist", "queue_hist")

Sweep = tuple[ProfilingJob, list[ProfilingResult]]


def deployment_costs(ctx: Context, ids: Iterable[int] | None = None) -> dict[int, Decimal]:
    """$ attributed to each deployment over the window (its GPUs' serving hours)."""
    records = CostRecord.objects.filter(
        hour__gte=ctx.start, hour__lt=ctx.end, deployment__isnull=False
    )
    if ids is not None:
        records = records.filter(deployment_id__in=list(ids))
    rows = records.values("deployment").annotate(usd=Sum("usd")).values_list("deployment", "usd")
    return {dep: usd for dep, usd in rows if usd}


def hourly_traffic(
    ctx: Context, ids: Iterable[int] | None = None
) -> dict[int, list[InferenceRollup]]:
    """Each deployment's hourly inference rollups in the window, oldest first."""
    rows = InferenceRollup.objects.filter(
        resolution=Resolution.HOUR, bucket__gte=ctx.start, bucket__lt=ctx.end
    ).order_by("bucket")
    if ids is not None:
        rows = rows.filter(deployment_id__in=list(ids))
    out: dict[int, list[InferenceRollup]] = defaultdict(list)
    for row in rows:
        out[row.deployment_id].append(row)
    return out


def hourly_gpu(ctx: Context, ids: Iterable[int] | None = None) -> dict[int, list[GpuRollup]]:
    """Each GPU's hourly rollups in the window, oldest first."""
    rows = GpuRollup.objects.filter(
        resolution=Resolution.HOUR, bucket__gte=ctx.start, bucket__lt=ctx.end
    ).order_by("bucket")
    if ids is not None:
        rows = rows.filter(gpu_id__in=list(ids))
    out: dict[int, list[GpuRollup]] = defaultdict(list)
    for row in rows:
        out[row.gpu_id].append(row)
    return out


def tokens_per_s(row: InferenceRollup) -> float:
    """Prompt and generated tokens per second of the time the bucket saw samples."""
    return (row.prompt_tokens + row.generation_tokens) / row.present_s if row.present_s else 0.0


def latency_ms(rows: Sequence[InferenceRollup], field: str, q: float = 0.95) -> float | None:
    """The q-quantile in ms of a latency histogram merged over rows (servers report s)."""
    assert field in HISTOGRAMS, field
    value = quantile(merge(getattr(r, field) for r in rows), q)
    return None if value is None else value * 1000.0


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
