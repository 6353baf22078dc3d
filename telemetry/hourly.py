"""Hourly rollups over a window as rows, for judgements that look at every hour one by
one (the recommendation rules): each deployment's or GPU's hours, counts of busy hours,
peak memory, and the latency percentiles and busy time of a set of hours.

Pages and the API read usage.py, which groups in SQL; a rule reads these rows. Either
way the stored histograms are decoded and merged here, in the read model, only.
"""

from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Literal, TypeVar

from django.db.models import Count, F, Max, Q

from telemetry.choices import Resolution
from telemetry.histograms import merge, quantile
from telemetry.models import GpuRollup, InferenceRollup
from telemetry.usage import SERIES_HISTOGRAMS

# The rows these readers return: one deployment's (or GPU's) hour as stored. A rule
# reads their counters; their histograms only through latency_ms and busy_s below.
TrafficHour = InferenceRollup
GpuHour = GpuRollup
_Hour = TypeVar("_Hour", InferenceRollup, GpuRollup)

Latency = Literal["ttft", "itl", "e2e", "queue"]


def hourly_traffic(
    start: datetime, end: datetime, deployment_ids: Iterable[int] | None = None
) -> dict[int, list[TrafficHour]]:
    """Each deployment's hourly inference rollups in [start, end), oldest first."""
    return _hours_by(InferenceRollup, "deployment_id", start, end, deployment_ids)


def hourly_gpu(
    start: datetime, end: datetime, gpu_ids: Iterable[int] | None = None
) -> dict[int, list[GpuHour]]:
    """Each GPU's hourly rollups in [start, end), oldest first."""
    return _hours_by(GpuRollup, "gpu_id", start, end, gpu_ids)


def _hours_by(
    model: type[_Hour], key: str, start: datetime, end: datetime, ids: Iterable[int] | None
) -> dict[int, list[_Hour]]:
    rows = model.objects.filter(
        resolution=Resolution.HOUR, bucket__gte=start, bucket__lt=end
    ).order_by("bucket")
    if ids is not None:
        rows = rows.filter(**{f"{key}__in": list(ids)})
    out: dict[int, list[_Hour]] = defaultdict(list)
    for row in rows:
        out[getattr(row, key)].append(row)
    return out


def tokens_per_s(row: TrafficHour) -> float:
    """Prompt and generated tokens per second of the time the bucket saw samples."""
    return (row.prompt_tokens + row.generation_tokens) / row.present_s if row.present_s else 0.0


def latency_ms(rows: Sequence[TrafficHour], metric: Latency, q: float = 0.95) -> float | None:
    """The q-quantile in ms of a latency histogram merged over rows (servers report s)."""
    field = f"{metric}_hist"
    assert field in SERIES_HISTOGRAMS, metric
    value = quantile(merge(getattr(r, field) for r in rows), q)
    return None if value is None else value * 1000.0


def busy_s(rows: Sequence[TrafficHour]) -> float:
    """Seconds spent inside requests over rows: the end-to-end histograms' sums."""
    return sum(float((r.e2e_hist or {}).get("sum") or 0.0) for r in rows)


def util_hours(
    start: datetime, end: datetime, busy_pct: float, gpu_ids: Sequence[int] | None = None
) -> dict[int, tuple[int, int]]:
    """(hours at or over busy_pct average utilization, hours with utilization) per GPU."""
    rows = GpuRollup.objects.filter(resolution=Resolution.HOUR, bucket__gte=start, bucket__lt=end)
    if gpu_ids is not None:
        rows = rows.filter(gpu_id__in=list(gpu_ids))
    counts = rows.values("gpu").annotate(
        seen=Count("id", filter=Q(util_n__gt=0)),
        busy=Count("id", filter=Q(util_n__gt=0, util_sum__gte=F("util_n") * busy_pct)),
    )
    return {r["gpu"]: (r["busy"], r["seen"]) for r in counts}


def peak_memory(start: datetime, end: datetime, gpu_ids: Sequence[int]) -> int | None:
    """The most memory one of the GPUs used in an hour of [start, end); None unless
    every one of them reported it."""
    peaks = dict(
        GpuRollup.objects.filter(
            resolution=Resolution.HOUR,
            bucket__gte=start,
            bucket__lt=end,
            gpu_id__in=list(gpu_ids),
            mem_used_max__isnull=False,
        )
        .values("gpu")
        .annotate(peak=Max("mem_used_max"))
        .values_list("gpu", "peak")
    )
    if not gpu_ids or set(peaks) != set(gpu_ids):
        return None
    return max(peaks.values())
