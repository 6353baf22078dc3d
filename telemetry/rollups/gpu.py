"""GPU rollups, all in SQL: raw samples -> minutes -> hours -> days."""

from datetime import datetime, timedelta

from django.db import connection

from inferscope.lib.sql import least, param, seconds, trunc
from telemetry.columns import GPU_ROLLUP_FIELDS
from telemetry.constants import MAX_PLAUSIBLE_POWER_W, MAX_SAMPLE_GAP_S, THROTTLE_MASK
from telemetry.models import GpuRollup

_GPU_COLUMNS = ", ".join(GPU_ROLLUP_FIELDS)
_GPU_UPDATE = ", ".join(f"{c.strip()} = excluded.{c.strip()}" for c in _GPU_COLUMNS.split(","))


def gpu_minutes(start: datetime, end: datetime) -> None:
    """Minute buckets from raw GPU samples.

    Each sample stands for the time since the GPU's previous sample (gaps over
    MAX_SAMPLE_GAP_S count as absent), and its energy is the energy counter's
    step over that time, or power x time where the counter is missing or reset.
    The window reaches back one gap so the first sample of the range has a predecessor.
    """
    table = GpuRollup._meta.db_table
    gap, bucket = "gap", trunc("ts", 60)
    sql = f"""
        INSERT INTO {table} (gpu_id, resolution, bucket, {_GPU_COLUMNS})
        SELECT gpu_id, 60, {bucket}, COUNT(*), SUM(covered),
            COALESCE(SUM(util_gpu), 0), COUNT(util_gpu), MAX(util_gpu),
            COALESCE(SUM(power_w), 0), COUNT(power_w), MAX(power_w),
            SUM(energy), MAX(mem_used_bytes), MAX(mem_total_bytes),
            SUM(CASE WHEN (throttle_reasons & {THROTTLE_MASK}) <> 0 THEN covered ELSE 0 END),
            COALESCE(SUM(temp_c), 0), COUNT(temp_c), MAX(temp_c),
            COALESCE(SUM(mem_used_bytes), 0), COUNT(mem_used_bytes),
            COALESCE(SUM(sm_clock_mhz), 0), COUNT(sm_clock_mhz),
            COALESCE(SUM(gr_engine_active), 0), COUNT(gr_engine_active),
            COALESCE(SUM(tensor_active), 0), COUNT(tensor_active),
            COALESCE(SUM(dram_active), 0), COUNT(dram_active)
        FROM (
            SELECT gpu_id, ts, util_gpu, power_w, mem_used_bytes, mem_total_bytes,
                throttle_reasons, temp_c, sm_clock_mhz, gr_engine_active, tensor_active,
                dram_active,
                CASE WHEN {gap} <= {MAX_SAMPLE_GAP_S} THEN {gap} ELSE 0 END AS covered,
                CASE WHEN {gap} IS NULL OR {gap} > {MAX_SAMPLE_GAP_S} THEN 0
                    WHEN energy_j >= prev_energy
                        AND energy_j - prev_energy <= {gap} * {MAX_PLAUSIBLE_POWER_W}
                        THEN energy_j - prev_energy
                    WHEN power_w IS NOT NULL THEN power_w * {gap}
                    ELSE 0 END AS energy
            FROM (
                SELECT gpu_id, ts, util_gpu, power_w, energy_j, mem_used_bytes,
                    mem_total_bytes, throttle_reasons, temp_c, sm_clock_mhz,
                    gr_engine_active, tensor_active, dram_active,
                    {seconds("ts", "LAG(ts) OVER w")} AS gap,
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
        cursor.execute(sql, [param(lookback), param(end), param(start)])


def merge_gpu(source: int, target: int, start: datetime, end: datetime) -> None:
    """Target buckets in [start, end) from the source buckets inside them."""
    table = GpuRollup._meta.db_table
    bucket = trunc("bucket", target)
    sql = f"""
        INSERT INTO {table} (gpu_id, resolution, bucket, {_GPU_COLUMNS})
        SELECT gpu_id, {target}, {bucket}, SUM(samples), {least("SUM(present_s)", str(target))},
            SUM(util_sum), SUM(util_n), MAX(util_max), SUM(power_sum), SUM(power_n),
            MAX(power_max), SUM(energy_j), MAX(mem_used_max), MAX(mem_total), SUM(throttled_s),
            SUM(temp_sum), SUM(temp_n), MAX(temp_max),
            SUM(mem_used_sum), SUM(mem_used_n), SUM(sm_clock_sum), SUM(sm_clock_n),
            SUM(gr_engine_sum), SUM(gr_engine_n), SUM(tensor_sum), SUM(tensor_n),
            SUM(dram_sum), SUM(dram_n)
        FROM {table}
        WHERE resolution = %s AND bucket >= %s AND bucket < %s
        GROUP BY gpu_id, {bucket}
        ON CONFLICT (gpu_id, resolution, bucket) DO UPDATE SET {_GPU_UPDATE}
    """
    with connection.cursor() as cursor:
        cursor.execute(sql, [source, param(start), param(end)])
