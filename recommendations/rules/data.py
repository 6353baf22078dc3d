"""Reads every rule shares: a window's cost per deployment or GPU, hourly traffic,
latency percentiles, profiling evidence, and how a saving is stated and charted."""

from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.db.models import Sum

from collectors.models import Deployment, Gpu
from costs.models import CostRecord
from inferscope.lib.money import DAYS_PER_MONTH
from profiling.choices import JobStatus
from profiling.models import ProfilingJob, ProfilingResult
from recommendations.rules.base import Context
from telemetry.choices import Resolution
from telemetry.histograms import merge, quantile
from telemetry.models import GpuRollup, InferenceRollup

CENT = Decimal("0.01")
HISTOGRAMS = ("ttft_hist", "itl_hist", "e2e_hist", "queue_hist")


def cents(value: Decimal | float) -> Decimal:
    return Decimal(str(value)).quantize(CENT, ROUND_HALF_UP)


def monthly(window_usd: Decimal | float, ctx: Context) -> Decimal:
    """A window's dollars as an average month's: x 30.4375 / days."""
    return cents(Decimal(str(window_usd)) * DAYS_PER_MONTH / ctx.days)


def monthly_arithmetic(window_usd: Decimal | float, ctx: Context, what: str = "") -> str:
    """'$420.00 over 7 days x 30.4375 / 7 = $1826.25 per month', `what` before it."""
    text = (
        f"${cents(window_usd)} over {ctx.days} days x {DAYS_PER_MONTH} / {ctx.days}"
        f" = ${monthly(window_usd, ctx)} per month"
    )
    return f"{what}: {text}" if what else text


def deployment_costs(ctx: Context, ids: Iterable[int] | None = None) -> dict[int, Decimal]:
    """$ attributed to each deployment over the window (its GPUs' serving hours)."""
    records = CostRecord.objects.filter(
        hour__gte=ctx.start, hour__lt=ctx.end, deployment__isnull=False
    )
    if ids is not None:
        records = records.filter(deployment_id__in=list(ids))
    rows = records.values("deployment").annotate(usd=Sum("usd")).values_list("deployment", "usd")
    return {dep: usd for dep, usd in rows if usd}


def gpu_costs(ctx: Context, ids: Iterable[int] | None = None) -> dict[int, Decimal]:
    """$ of each GPU over the window, whatever it served."""
    records = CostRecord.objects.filter(hour__gte=ctx.start, hour__lt=ctx.end)
    if ids is not None:
        records = records.filter(gpu_id__in=list(ids))
    rows = records.values("gpu").annotate(usd=Sum("usd")).values_list("gpu", "usd")
    return {gpu: usd for gpu, usd in rows if usd}


def gpu_hour_costs(ctx: Context, ids: Iterable[int]) -> dict[int, dict[datetime, Decimal]]:
    """$ of each GPU in each hour of the window: what removing it at that hour saves."""
    out: dict[int, dict[datetime, Decimal]] = defaultdict(dict)
    rows = (
        CostRecord.objects.filter(hour__gte=ctx.start, hour__lt=ctx.end, gpu_id__in=list(ids))
        .values("gpu", "hour")
        .annotate(usd=Sum("usd"))
    )
    for row in rows:
        out[row["gpu"]][row["hour"]] = row["usd"]
    return out


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


def latest_profiling(deployment_id: int) -> tuple[ProfilingJob, list[ProfilingResult]] | None:
    """The newest finished sweep run for this deployment, with its points in order."""
    job = (
        ProfilingJob.objects.filter(deployment_id=deployment_id, status=JobStatus.DONE)
        .order_by("-finished_at", "-id")
        .first()
    )
    if job is None:
        return None
    return job, list(job.results.order_by("index"))


def chart(
    title: str,
    x: Sequence[Any],
    series: Sequence[tuple[str, Sequence[float | None]]],
    y_title: str,
    kind: str = "line",
    x_title: str = "",
    lines: Sequence[tuple[str, float]] = (),
) -> dict[str, Any]:
    """The evidence chart a recommendation's page draws: JSON only, so it is stored
    with the finding. `lines` are horizontal references (a target, a threshold)."""
    return {
        "title": title,
        "kind": kind,
        "x": [v.isoformat() if isinstance(v, datetime) else v for v in x],
        "x_title": x_title,
        "y_title": y_title,
        "series": [{"name": name, "y": list(values)} for name, values in series],
        "lines": [{"name": name, "y": value} for name, value in lines],
    }
