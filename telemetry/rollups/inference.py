"""Inference rollups: counters summed, maxima kept, histograms merged in Python.

Rows are read and written with plain cursors and msgspec: the ORM's per-value
JSON conversion was most of the cost of a day's rollup.
"""

from datetime import datetime
from typing import Any

from django.db import connection

from inferscope.lib.sql import as_datetime, as_json, from_json, param, trunc
from telemetry import histograms
from telemetry.choices import Resolution
from telemetry.columns import (
    INFERENCE_HISTOGRAMS,
    INFERENCE_JSON,
    INFERENCE_MAXES,
    INFERENCE_ROLLUP_FIELDS,
    INFERENCE_SUMS,
)
from telemetry.models import InferenceRollup

_ROLLUP_TABLE = InferenceRollup._meta.db_table
_INTEGER_SUMS = {"samples", "kv_cache_n"}


def inference_minutes(start: datetime, end: datetime) -> None:
    """Minute buckets from raw samples: counters summed in SQL, JSON gathered per bucket."""
    raw = {
        "samples": "COUNT(*)",
        "present_s": "SUM(interval_s)",
        "requests_ok": _isum("requests_ok"),
        "requests_error": _isum("requests_error"),
        "requests_aborted": _isum("requests_aborted"),
        "prompt_tokens": _isum("prompt_tokens"),
        "generation_tokens": _isum("generation_tokens"),
        "kv_cache_sum": "COALESCE(SUM(kv_cache_usage), 0)",
        "kv_cache_n": "COUNT(kv_cache_usage)",
        "prefix_cache_hits": f"COALESCE({_isum('prefix_cache_hits')}, 0)",
        "prefix_cache_queries": f"COALESCE({_isum('prefix_cache_queries')}, 0)",
        "preemptions": f"COALESCE({_isum('preemptions')}, 0)",
        # A sample with requests running or finished counts as serving time.
        "active_s": (
            "COALESCE(SUM(CASE WHEN running > 0 OR requests_ok + requests_error"
            " + requests_aborted > 0 THEN interval_s ELSE 0 END), 0)"
        ),
        "prefill_s": "COALESCE(SUM(prefill_s), 0)",
        "decode_s": "COALESCE(SUM(decode_s), 0)",
        "batch_inferences": f"COALESCE({_isum('batch_inferences')}, 0)",
        "batch_executions": f"COALESCE({_isum('batch_executions')}, 0)",
        "running_max": "MAX(running)",
        "waiting_max": "MAX(waiting)",
    }
    _roll("collectors_inferencesample", "ts", raw, Resolution.MINUTE, "", start, end)


def merge_inference(source: int, target: int, start: datetime, end: datetime) -> None:
    """Target buckets in [start, end) from the source buckets inside them."""
    sums = {
        f: (
            f"SUM({f})"
            if f in _INTEGER_SUMS or f.endswith("_s") or f == "kv_cache_sum"
            else _isum(f)
        )
        for f in INFERENCE_SUMS
    }
    maxes = {f: f"MAX({f})" for f in INFERENCE_MAXES}
    _roll(
        _ROLLUP_TABLE,
        "bucket",
        {**sums, **maxes},
        target,
        f"resolution = {int(source)} AND",
        start,
        end,
    )


def _isum(column: str) -> str:
    # PostgreSQL sums bigints as numeric, which would come back as Decimal.
    return f"SUM({column})::bigint" if connection.vendor == "postgresql" else f"SUM({column})"


def _gather(column: str, order: str) -> str:
    if connection.vendor == "postgresql":
        # In time order, so float sums come out the same on every run.
        return f"json_agg({column} ORDER BY {order})::text"
    return f"json_group_array(json({column}))"


def _roll(
    table: str,
    ts: str,
    aggregates: dict[str, str],
    resolution: int,
    where: str,
    start: datetime,
    end: datetime,
) -> None:
    bucket = trunc(ts, resolution)
    gathered = ", ".join(_gather(c, ts) for c in INFERENCE_JSON)
    sql = (
        f"SELECT deployment_id, {bucket}, {', '.join(aggregates.values())}, {gathered}"
        f" FROM {table} WHERE {where} {ts} >= %s AND {ts} < %s GROUP BY deployment_id, {bucket}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [param(start), param(end)])
        rows = cursor.fetchall()
    merged = []
    width = len(aggregates)
    for row in rows:
        values = dict(zip(aggregates, row[2 : 2 + width], strict=True))
        if resolution != Resolution.MINUTE:
            # A sample's interval may exceed a minute (a slower agent, a missed
            # scrape): minutes keep the whole sum, so the hour still adds up.
            values["present_s"] = min(values["present_s"], resolution)
            values["active_s"] = min(values["active_s"], values["present_s"])
        lists = [from_json(v) for v in row[2 + width :]]
        for field, hists in zip(INFERENCE_HISTOGRAMS, lists, strict=False):
            values[field] = histograms.merge(hists)
        values["gpu_memory"] = _memory(lists[-1])
        merged.append((row[0], as_datetime(row[1]), values))
    _upsert(resolution, merged)


def _memory(parts: list[dict[str, Any] | None]) -> dict[str, list[int]] | None:
    """Per-GPU [bytes summed, samples], from raw {uuid: bytes} or rolled-up pairs."""
    memory: dict[str, list[int]] = {}
    for part in parts:
        for uuid, value in (part or {}).items():
            used, n = (value, 1) if isinstance(value, int) else value
            total = memory.setdefault(uuid, [0, 0])
            total[0] += used
            total[1] += n
    return memory or None


def _upsert(resolution: int, rollups: list[tuple[int, datetime, dict[str, Any]]]) -> None:
    columns = ("deployment_id", "resolution", "bucket", *INFERENCE_ROLLUP_FIELDS)
    update = ", ".join(f"{c} = excluded.{c}" for c in INFERENCE_ROLLUP_FIELDS)
    sql = (
        f"INSERT INTO {_ROLLUP_TABLE} ({', '.join(columns)})"
        f" VALUES ({', '.join(['%s'] * len(columns))})"
        f" ON CONFLICT (deployment_id, resolution, bucket) DO UPDATE SET {update}"
    )
    rows = [
        (
            deployment_id,
            resolution,
            param(bucket),
            *(values[f] for f in INFERENCE_SUMS),
            *(values[f] for f in INFERENCE_MAXES),
            *(as_json(values[f]) for f in INFERENCE_JSON),
        )
        for deployment_id, bucket, values in rollups
    ]
    if rows:
        with connection.cursor() as cursor:
            cursor.executemany(sql, rows)
