"""Raw samples -> 1-minute -> 1-hour -> 1-day buckets, then the hour's cost records.

Every bucket is recomputed whole from the level below and upserted, so running
a job twice gives the same rows, and a late sample re-rolls the buckets it
falls in. Which buckets to recompute comes from the SampleSpan outbox that
ingest writes; the spans are deleted in the same transaction that rolls them
up, so a job killed half way leaves everything for the next run.
"""

import logging
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from collectors.models import InferenceSample, SampleSpan
from costs import attribution, histograms
from costs.choices import Resolution
from costs.constants import MAX_PLAUSIBLE_POWER_W, MAX_SAMPLE_GAP_S, THROTTLE_MASK
from costs.models import GpuRollup, InferenceRollup

logger = logging.getLogger(__name__)

HOUR = timedelta(hours=1)
# Spans read per run: a bounded transaction; the rest waits for the next run.
_MAX_SPANS = 20_000
_ADVISORY_LOCK = 0x1F5C_0575  # any constant unique to this job


def rollup_pending(now: datetime | None = None) -> int:
    """Roll up the buckets that pending spans touch; returns the number of hours re-rolled."""
    now = now or timezone.now()
    with transaction.atomic():
        if not _lock():
            logger.info("another rollup is running; leaving the spans to it")
            return 0
        spans = list(
            SampleSpan.objects.order_by("pk").values_list("pk", "start", "end")[:_MAX_SPANS]
        )
        if not spans:
            return 0
        # Raw samples older than retention may be partly deleted already:
        # re-rolling their buckets would overwrite good rollups with fragments.
        oldest = _hour(now - timedelta(days=settings.RAW_SAMPLE_RETENTION_DAYS)) + HOUR
        hours = sorted(
            {h for _, start, end in spans for h in hours_between(start, end) if h >= oldest}
        )
        roll_hours(hours)
        # By pk, not pk <= max: a span committed meanwhile with a lower pk is not ours yet.
        SampleSpan.objects.filter(pk__in=[pk for pk, _, _ in spans]).delete()
    return len(hours)


def roll_hours(hours: Sequence[datetime]) -> None:
    """Recompute the minute, hour and day buckets and the cost records of these hours."""
    if not hours:
        return
    for start, end in _runs(hours):
        _gpu_minutes(start, end)
        _inference_minutes(start, end)
        _merge_gpu(Resolution.MINUTE, Resolution.HOUR, start, end)
        _merge_inference(Resolution.MINUTE, Resolution.HOUR, start, end)
    for day in sorted({h.replace(hour=0) for h in hours}):
        _merge_gpu(Resolution.HOUR, Resolution.DAY, day, day + timedelta(days=1))
        _merge_inference(Resolution.HOUR, Resolution.DAY, day, day + timedelta(days=1))
    attribution.attribute_hours(hours)


def hours_between(start: datetime, end: datetime) -> list[datetime]:
    hour, last = _hour(start), _hour(end)
    out = []
    while hour <= last:
        out.append(hour)
        hour += HOUR
    return out


def _hour(ts: datetime) -> datetime:
    return ts.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def _runs(hours: Sequence[datetime]) -> Iterable[tuple[datetime, datetime]]:
    """Consecutive hours as [start, end) ranges, so each range is one query."""
    start = prev = hours[0]
    for hour in hours[1:]:
        if hour != prev + HOUR:
            yield start, prev + HOUR
            start = hour
        prev = hour
    yield start, prev + HOUR


def _lock() -> bool:
    if connection.vendor != "postgresql":
        return True  # SQLite runs one write transaction at a time anyway
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_xact_lock(%s)", [_ADVISORY_LOCK])
        return bool(cursor.fetchone()[0])


# --- SQL that differs between PostgreSQL and SQLite -------------------------

_SQLITE_TRUNC = {60: "%Y-%m-%d %H:%M:00", 3600: "%Y-%m-%d %H:00:00", 86400: "%Y-%m-%d 00:00:00"}
_PG_TRUNC = {60: "minute", 3600: "hour", 86400: "day"}


def _trunc(column: str, resolution: int) -> str:
    if connection.vendor == "postgresql":
        return f"date_trunc('{_PG_TRUNC[resolution]}', {column})"
    return f"strftime('{_SQLITE_TRUNC[resolution]}', {column})"


def _seconds(later: str, earlier: str) -> str:
    if connection.vendor == "postgresql":
        return f"EXTRACT(EPOCH FROM ({later} - {earlier}))"
    # julianday() carries ~50 us of float error; samples are not stamped finer than 1 ms.
    return f"ROUND((julianday({later}) - julianday({earlier})) * 86400.0, 3)"


def _least(a: str, b: str) -> str:
    return f"LEAST({a}, {b})" if connection.vendor == "postgresql" else f"MIN({a}, {b})"


def _param(ts: datetime) -> Any:
    return connection.ops.adapt_datetimefield_value(ts)


_GPU_COLUMNS = (
    "samples, present_s, util_sum, util_n, util_max, power_sum, power_n, power_max,"
    " energy_j, mem_used_max, mem_total, throttled_s"
)
_GPU_UPDATE = ", ".join(f"{c.strip()} = excluded.{c.strip()}" for c in _GPU_COLUMNS.split(","))


def _gpu_minutes(start: datetime, end: datetime) -> None:
    """Minute buckets from raw GPU samples.

    Each sample stands for the time since the GPU's previous sample (gaps over
    MAX_SAMPLE_GAP_S count as absent), and its energy is the energy counter's
    step over that time, or power x time where the counter is missing or reset.
    The window reaches back one gap so the first sample of the range has a predecessor.
    """
    table = GpuRollup._meta.db_table
    gap, bucket = "gap", _trunc("ts", 60)
    sql = f"""
        INSERT INTO {table} (gpu_id, resolution, bucket, {_GPU_COLUMNS})
        SELECT gpu_id, 60, {bucket}, COUNT(*), SUM(covered),
            COALESCE(SUM(util_gpu), 0), COUNT(util_gpu), MAX(util_gpu),
            COALESCE(SUM(power_w), 0), COUNT(power_w), MAX(power_w),
            SUM(energy), MAX(mem_used_bytes), MAX(mem_total_bytes),
            SUM(CASE WHEN (throttle_reasons & {THROTTLE_MASK}) <> 0 THEN covered ELSE 0 END)
        FROM (
            SELECT gpu_id, ts, util_gpu, power_w, mem_used_bytes, mem_total_bytes,
                throttle_reasons,
                CASE WHEN {gap} <= {MAX_SAMPLE_GAP_S} THEN {gap} ELSE 0 END AS covered,
                CASE WHEN {gap} IS NULL OR {gap} > {MAX_SAMPLE_GAP_S} THEN 0
                    WHEN energy_j >= prev_energy
                        AND energy_j - prev_energy <= {gap} * {MAX_PLAUSIBLE_POWER_W}
                        THEN energy_j - prev_energy
                    WHEN power_w IS NOT NULL THEN power_w * {gap}
                    ELSE 0 END AS energy
            FROM (
                SELECT gpu_id, ts, util_gpu, power_w, energy_j, mem_used_bytes,
                    mem_total_bytes, throttle_reasons,
                    {_seconds("ts", "LAG(ts) OVER w")} AS gap,
                    LAG(energy_j) OVER w AS prev_energy
                FROM collectors_gpusample
                WHERE ts >= %s AND ts < %s
                WINDOW w AS (PARTITION BY gpu_id ORDER BY ts)
            ) lagged
            WHERE ts >= %s
        ) covered_samples
        WHERE true
        GROUP BY gpu_id, {bucket}
        ON CONFLICT (gpu_id, resolution, bucket) DO UPDATE SET {_GPU_UPDATE}
    """
    lookback = start - timedelta(seconds=MAX_SAMPLE_GAP_S)
    with connection.cursor() as cursor:
        cursor.execute(sql, [_param(lookback), _param(end), _param(start)])


def _merge_gpu(source: int, target: int, start: datetime, end: datetime) -> None:
    """Target buckets in [start, end) from the source buckets inside them."""
    table = GpuRollup._meta.db_table
    bucket = _trunc("bucket", target)
    sql = f"""
        INSERT INTO {table} (gpu_id, resolution, bucket, {_GPU_COLUMNS})
        SELECT gpu_id, {target}, {bucket}, SUM(samples), {_least("SUM(present_s)", str(target))},
            SUM(util_sum), SUM(util_n), MAX(util_max), SUM(power_sum), SUM(power_n),
            MAX(power_max), SUM(energy_j), MAX(mem_used_max), MAX(mem_total), SUM(throttled_s)
        FROM {table}
        WHERE resolution = %s AND bucket >= %s AND bucket < %s
        GROUP BY gpu_id, {bucket}
        ON CONFLICT (gpu_id, resolution, bucket) DO UPDATE SET {_GPU_UPDATE}
    """
    with connection.cursor() as cursor:
        cursor.execute(sql, [source, _param(start), _param(end)])


# --- inference rollups: JSON histograms are merged in Python -----------------

_SUMS = (
    "samples",
    "present_s",
    "requests_ok",
    "requests_error",
    "requests_aborted",
    "prompt_tokens",
    "generation_tokens",
    "kv_cache_sum",
    "kv_cache_n",
    "prefix_cache_hits",
    "prefix_cache_queries",
    "preemptions",
)
_MAXES = ("running_max", "waiting_max")
_HISTS = ("ttft_hist", "itl_hist", "e2e_hist", "queue_hist")
_FIELDS = (*_SUMS, *_MAXES, *_HISTS, "gpu_memory")
_RAW = (
    "deployment_id",
    "ts",
    "interval_s",
    "requests_ok",
    "requests_error",
    "requests_aborted",
    "prompt_tokens",
    "generation_tokens",
    "running",
    "waiting",
    "kv_cache_usage",
    "prefix_cache_hits",
    "prefix_cache_queries",
    "preemptions",
    *_HISTS,
    "gpu_memory",
)


def _from_sample(row: tuple[Any, ...]) -> dict[str, Any]:
    (_, _, interval, ok, err, aborted, prompt, gen, running, waiting, kv, hits, queries, pre) = row[
        :14
    ]
    memory = row[18]
    return {
        "samples": 1,
        "present_s": interval,
        "requests_ok": ok,
        "requests_error": err,
        "requests_aborted": aborted,
        "prompt_tokens": prompt,
        "generation_tokens": gen,
        "kv_cache_sum": kv or 0.0,
        "kv_cache_n": 0 if kv is None else 1,
        "prefix_cache_hits": hits or 0,
        "prefix_cache_queries": queries or 0,
        "preemptions": pre or 0,
        "running_max": running,
        "waiting_max": waiting,
        **dict(zip(_HISTS, row[14:18], strict=True)),
        "gpu_memory": {uuid: [used, 1] for uuid, used in memory.items()} if memory else None,
    }


def _merge(parts: list[dict[str, Any]], resolution: int) -> dict[str, Any]:
    merged: dict[str, Any] = {f: sum(p[f] for p in parts) for f in _SUMS}
    merged["present_s"] = min(merged["present_s"], resolution)
    for field in _MAXES:
        values = [p[field] for p in parts if p[field] is not None]
        merged[field] = max(values) if values else None
    for field in _HISTS:
        merged[field] = histograms.merge(p[field] for p in parts)
    memory: dict[str, list[int]] = {}
    for part in parts:
        for uuid, (used, n) in (part["gpu_memory"] or {}).items():
            total = memory.setdefault(uuid, [0, 0])
            total[0] += used
            total[1] += n
    merged["gpu_memory"] = memory or None
    return merged


def _inference_minutes(start: datetime, end: datetime) -> None:
    groups: dict[tuple[int, datetime], list[dict[str, Any]]] = defaultdict(list)
    rows = InferenceSample.objects.filter(ts__gte=start, ts__lt=end).values_list(*_RAW)
    for row in rows.iterator(chunk_size=5000):
        minute = row[1].replace(second=0, microsecond=0)
        groups[(row[0], minute)].append(_from_sample(row))
    _upsert_inference(
        InferenceRollup(
            deployment_id=dep, resolution=60, bucket=bucket, **_merge(parts, Resolution.MINUTE)
        )
        for (dep, bucket), parts in groups.items()
    )


def _merge_inference(source: int, target: int, start: datetime, end: datetime) -> None:
    groups: dict[tuple[int, datetime], list[dict[str, Any]]] = defaultdict(list)
    rows = InferenceRollup.objects.filter(
        resolution=source, bucket__gte=start, bucket__lt=end
    ).values("deployment_id", "bucket", *_FIELDS)
    for row in rows.iterator(chunk_size=5000):
        bucket = row["bucket"].replace(minute=0, second=0, microsecond=0)
        if target == Resolution.DAY:
            bucket = bucket.replace(hour=0)
        groups[(row["deployment_id"], bucket)].append(row)
    _upsert_inference(
        InferenceRollup(
            deployment_id=dep, resolution=target, bucket=bucket, **_merge(parts, target)
        )
        for (dep, bucket), parts in groups.items()
    )


def _upsert_inference(rollups: Iterable[InferenceRollup]) -> None:
    InferenceRollup.objects.bulk_create(
        list(rollups),
        batch_size=2000,
        update_conflicts=True,
        unique_fields=["deployment", "resolution", "bucket"],
        update_fields=list(_FIELDS),
    )
