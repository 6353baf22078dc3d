"""Hourly rows up to an end hour (and unsaved minute rows): what the rollup and
attribution jobs would have stored.

The recommendation rules, the economics and several pages read a "constructed week":
one GpuRollup, InferenceRollup and CostRecord an hour, each hour fully present (360
samples, 3,600 s). These builders write them in one bulk insert per call.
"""

from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from collectors.models import Deployment, Gpu
from costs.attribution import hourly_spend
from costs.models import CostRecord, HourlySpend
from telemetry.choices import Resolution
from telemetry.models import GpuRollup, InferenceRollup

END = datetime(2026, 11, 23, tzinfo=UTC)  # a Monday; the rules' window is the 7 days before
WEEK = 7 * 24
# A whole hour of 10-second samples.
FULL_HOUR = {"resolution": Resolution.HOUR, "samples": 360, "present_s": 3600}

Each = Callable[[int, datetime], dict[str, Any]]


def hours_up_to(end: datetime = END, hours: int = WEEK) -> list[datetime]:
    """The starts of the `hours` whole hours before `end`, oldest first."""
    start = end - timedelta(hours=hours)
    return [start + timedelta(hours=h) for h in range(hours)]


def cost_hours(
    gpus: Gpu | Iterable[Gpu],
    deployment: Deployment | None = None,
    usd: str = "2.50",
    hours: int = WEEK,
    end: datetime = END,
    pricing: str = "test",
) -> None:
    """One CostRecord per GPU an hour: a whole GPU-hour at `usd`, charged to `deployment`
    (None: the GPU's idle time)."""
    gpus = [gpus] if isinstance(gpus, Gpu) else list(gpus)
    save_cost_records(
        [
            CostRecord(
                hour=hour,
                gpu=gpu,
                deployment=deployment,
                usd=Decimal(usd),
                gpu_hours=1.0,
                rate_usd_per_hour=Decimal(usd),
                pricing=pricing,
            )
            for hour in hours_up_to(end, hours)
            for gpu in gpus
        ]
    )


def gpu_hours(
    gpu: Gpu,
    util: float = 60.0,
    hours: int = WEEK,
    end: datetime = END,
    each: Each | None = None,
    **fields: Any,
) -> None:
    """Hourly GpuRollups of one GPU, `util` % busy; `each(h, bucket)` returns fields for
    hour h (0 is the oldest) laid over the others."""
    rows = []
    for h, bucket in enumerate(hours_up_to(end, hours)):
        values = {**FULL_HOUR, "util_sum": util * 360, "util_n": 360, **fields}
        values.update(each(h, bucket) if each else {})
        rows.append(GpuRollup(gpu=gpu, bucket=bucket, **values))
    GpuRollup.objects.bulk_create(rows)


def inference_hours(
    deployment: Deployment,
    hours: int = WEEK,
    end: datetime = END,
    each: Each | None = None,
    **fields: Any,
) -> None:
    """Hourly InferenceRollups of one deployment with `fields` every hour; `each(h, bucket)`
    returns fields for hour h (0 is the oldest) laid over them."""
    rows = []
    for h, bucket in enumerate(hours_up_to(end, hours)):
        values = {**FULL_HOUR, **fields}
        values.update(each(h, bucket) if each else {})
        rows.append(InferenceRollup(deployment=deployment, bucket=bucket, **values))
    InferenceRollup.objects.bulk_create(rows)


def gpu_week(
    gpu: Gpu,
    util: float | None = 60.0,
    usd: str = "2.50",
    deployment: Deployment | None = None,
    hours: int = WEEK,
    end: datetime = END,
    pricing: str = "test",
) -> None:
    """`hours` hours up to `end` of one GPU busy at `util` % (None: no rollups), each
    costed at `usd` and charged to `deployment` (None: idle)."""
    if util is not None:
        gpu_hours(gpu, util, hours, end)
    cost_hours(gpu, deployment, usd, hours, end, pricing)


def gpu_minute(gpu: Gpu, bucket: datetime, util: float, **fields: Any) -> GpuRollup:
    """An unsaved minute rollup of one GPU (6 samples over 60 s) `util` % busy; the
    anomaly tests bulk-insert days of them."""
    values = {"resolution": Resolution.MINUTE, "samples": 6, "present_s": 60}
    return GpuRollup(gpu=gpu, bucket=bucket, util_sum=util * 6, util_n=6, **values, **fields)


def hist(bounds: list[float], bucket: int, n: int = 1000, mean: float | None = None) -> dict:
    """A latency histogram of n observations all in bucket `bucket` (the one ending at
    bounds[bucket]); its sum is n x `mean`, by default n x that bucket's upper bound."""
    counts = [0] * (len(bounds) + 1)
    counts[bucket] = n
    return {
        "bounds": bounds,
        "counts": counts,
        "sum": (bounds[bucket] if mean is None else mean) * n,
    }


def save_cost_records(records: list[CostRecord]) -> None:
    """Hand-made cost records stored as attribution stores them: with their hourly sums,
    each touched hour's sums redone from all its records, so calls may share hours."""
    CostRecord.objects.bulk_create(records)
    hours = {record.hour for record in records}
    by_hour: dict[datetime, list[CostRecord]] = {}
    for record in CostRecord.objects.filter(hour__in=hours):
        by_hour.setdefault(record.hour, []).append(record)
    HourlySpend.objects.filter(hour__in=hours).delete()
    HourlySpend.objects.bulk_create(
        row for hour, rows in by_hour.items() for row in hourly_spend(hour, rows)
    )
