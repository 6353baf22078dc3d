"""Read queries for GPU and deployment figures over a time range, for pages and the API.

A chart reads the range's source (raw samples, or 1-minute, hourly or daily
rollups, see inferscope.lib.timerange) grouped into steps in SQL, so a page
reads about MAX_POINTS rows per series whatever the data kept. Totals over a
range read tiles: whole days from daily rollups, the edges from hours and
minutes, so a 30-day table reads ~80 rows per deployment instead of 43,200.
Latency percentiles are merged from the stored histograms, never averaged.
"""

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import groupby
from operator import itemgetter
from typing import Any

import msgspec
from django.db import connection

from inferscope.lib.sql import bucket_start, fetch_all, param, placeholders, step_time
from inferscope.lib.timerange import DAY, HOUR, MINUTE, RAW, TimeRange
from telemetry.constants import THROTTLE_MASK
from telemetry.deployment_figures import QUANTILES, DeploymentFigures, figures_of
from telemetry.histograms import merge
from telemetry.models import GpuRollup, InferenceRollup

__all__ = ["QUANTILES", "DeploymentFigures"]

_FLOAT = "DOUBLE PRECISION"
_THROTTLED_RAW = (
    "CASE WHEN throttle_reasons IS NULL THEN NULL"
    f" WHEN (throttle_reasons & {THROTTLE_MASK}) <> 0 THEN 100.0 ELSE 0.0 END"
)
# metric: (over rollups, over raw samples)
GPU_METRICS = {
    "util": ("SUM(util_sum) / NULLIF(SUM(util_n), 0)", "AVG(util_gpu)"),
    "util_max": ("MAX(util_max)", "MAX(util_gpu)"),
    "power": ("SUM(power_sum) / NULLIF(SUM(power_n), 0)", "AVG(power_w)"),
    "power_max": ("MAX(power_max)", "MAX(power_w)"),
    "mem_used": ("SUM(mem_used_sum) / NULLIF(SUM(mem_used_n), 0)", "AVG(mem_used_bytes)"),
    "mem_total": ("MAX(mem_total)", "MAX(mem_total_bytes)"),
    "temp": ("SUM(temp_sum) / NULLIF(SUM(temp_n), 0)", "AVG(temp_c)"),
    "temp_max": ("MAX(temp_max)", "MAX(temp_c)"),
    "sm_clock": ("SUM(sm_clock_sum) / NULLIF(SUM(sm_clock_n), 0)", "AVG(sm_clock_mhz)"),
    # dcgm-exporter's profiling fractions, as percent.
    "gr_engine": (
        "100.0 * SUM(gr_engine_sum) / NULLIF(SUM(gr_engine_n), 0)",
        "100.0 * AVG(gr_engine_active)",
    ),
    "tensor": ("100.0 * SUM(tensor_sum) / NULLIF(SUM(tensor_n), 0)", "100.0 * AVG(tensor_active)"),
    "dram": ("100.0 * SUM(dram_sum) / NULLIF(SUM(dram_n), 0)", "100.0 * AVG(dram_active)"),
    "throttled_pct": (
        "100.0 * SUM(throttled_s) / NULLIF(SUM(present_s), 0)",
        f"AVG({_THROTTLED_RAW})",
    ),
    "energy_j": ("SUM(energy_j)", "NULL"),
    "present_s": ("SUM(present_s)", "NULL"),
}
DEPLOYMENT_METRICS = {
    "requests": (
        "SUM(requests_ok + requests_error + requests_aborted)",
        "SUM(requests_ok + requests_error + requests_aborted)",
    ),
    "errors": ("SUM(requests_error)", "SUM(requests_error)"),
    "prompt_tokens": ("SUM(prompt_tokens)", "SUM(prompt_tokens)"),
    "generation_tokens": ("SUM(generation_tokens)", "SUM(generation_tokens)"),
    "present_s": ("SUM(present_s)", "SUM(interval_s)"),
    "running_max": ("MAX(running_max)", "MAX(running)"),
    "waiting_max": ("MAX(waiting_max)", "MAX(waiting)"),
    "kv_cache": ("SUM(kv_cache_sum) / NULLIF(SUM(kv_cache_n), 0)", "AVG(kv_cache_usage)"),
    "prefix_hits": ("SUM(prefix_cache_hits)", "SUM(prefix_cache_hits)"),
    "prefix_queries": ("SUM(prefix_cache_queries)", "SUM(prefix_cache_queries)"),
    "preemptions": ("SUM(preemptions)", "SUM(preemptions)"),
    "batch_inferences": ("SUM(batch_inferences)", "SUM(batch_inferences)"),
    "batch_executions": ("SUM(batch_executions)", "SUM(batch_executions)"),
}
HISTOGRAMS = ("ttft_hist", "itl_hist", "e2e_hist")
# A deployment's own page charts queue time too; the lists do not read it.
SERIES_HISTOGRAMS = (*HISTOGRAMS, "queue_hist")
_GPU = {"rollup": GpuRollup._meta.db_table, "raw": "collectors_gpusample", "fk": "gpu_id"}
_DEPLOYMENT = {
    "rollup": InferenceRollup._meta.db_table,
    "raw": "collectors_inferencesample",
    "fk": "deployment_id",
}


@dataclass
class Series:
    """One entity's metrics at each step: times[i] goes with values[name][i]."""

    times: list[datetime] = field(default_factory=list)
    values: dict[str, list[Any]] = field(default_factory=lambda: defaultdict(list))


Tile = tuple[int, datetime, datetime]  # (source, start, end)


def tiles(start: datetime, end: datetime, finest: int) -> list[Tile]:
    """[start, end) covered by the coarsest aligned buckets, finer ones at the edges.

    The finest level takes every bucket that starts in its part, so a range
    that does not start on a minute reads the whole first minute.
    """
    if finest == RAW:
        return [(RAW, start, end)]
    levels = [r for r in (DAY, HOUR, MINUTE) if r >= finest]
    out: list[Tile] = []

    def cover(a: datetime, b: datetime, level: int) -> None:
        res = levels[level]
        if level == len(levels) - 1:
            out.append((res, _floor(a, res), b))
            return
        lo, hi = _ceil(a, res), _floor(b, res)
        if lo >= hi:
            cover(a, b, level + 1)
            return
        if a < lo:
            cover(a, lo, level + 1)
        out.append((res, lo, hi))
        if hi < b:
            cover(hi, b, level + 1)

    cover(start, end, 0)
    return out


def _floor(ts: datetime, seconds: int) -> datetime:
    epoch = int(ts.timestamp())
    return datetime.fromtimestamp(epoch - epoch % seconds, UTC)


def _ceil(ts: datetime, seconds: int) -> datetime:
    floor = _floor(ts, seconds)
    return floor if floor == ts else floor + timedelta(seconds=seconds)


def _select(metrics: dict[str, tuple[str, str]], raw: bool) -> str:
    return ", ".join(f"CAST({expr[1 if raw else 0]} AS {_FLOAT})" for expr in metrics.values())


def _where(table: dict[str, str], tile: Tile, ids: Sequence[int] | None) -> tuple[str, list[Any]]:
    source, start, end = tile
    column = "ts" if source == RAW else "bucket"
    sql = f"{column} >= %s AND {column} < %s"
    args: list[Any] = [param(start), param(end)]
    if source != RAW:
        sql = f"resolution = %s AND {sql}"
        args.insert(0, source)
    if ids is not None:
        sql += f" AND {table['fk']} IN ({placeholders(len(ids))})" if ids else " AND false"
        args.extend(ids)
    return sql, args


def _series(
    table: dict[str, str],
    metrics: dict[str, tuple[str, str]],
    tr: TimeRange,
    ids: Sequence[int] | None,
    step: int | None = None,
) -> dict[int, Series]:
    step = step or tr.step
    source = tr.source
    raw = source == RAW
    column = "ts" if raw else "bucket"
    where, args = _where(table, (source, tr.start, tr.end), ids)
    fk = table["fk"]
    sql = (
        f"SELECT {fk}, {bucket_start(column, step)} AS t, {_select(metrics, raw)}"
        f" FROM {table['raw' if raw else 'rollup']} WHERE {where} GROUP BY {fk}, t ORDER BY {fk}, t"
    )
    out: dict[int, Series] = {}
    names = list(metrics)
    rows = fetch_all(sql, args)
    # Column-wise per entity: a 30-day heatmap is ~23,000 rows over only 360 steps.
    stamps = {t: step_time(t) for t in {row[1] for row in rows}}
    for pk, group in groupby(rows, key=itemgetter(0)):
        columns = list(zip(*group, strict=True))
        out[pk] = Series(
            [stamps[t] for t in columns[1]],
            {name: list(column) for name, column in zip(names, columns[2:], strict=True)},
        )
    return out


def _totals(
    table: dict[str, str],
    metrics: dict[str, tuple[str, str]],
    tr: TimeRange,
    ids: Sequence[int] | None,
) -> dict[int, dict[str, float | None]]:
    """Each entity's metrics over the whole range, summed across tiles.

    Averages come back as (sum, count) per tile and are combined here, so a
    tile of days and a tile of minutes weigh by their samples, not equally.
    """
    parts: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for tile in tiles(tr.start, tr.end, tr.source):
        raw = tile[0] == RAW
        where, args = _where(table, tile, ids)
        sql = (
            f"SELECT {table['fk']}, {_select(metrics, raw)}"
            f" FROM {table['raw' if raw else 'rollup']} WHERE {where} GROUP BY {table['fk']}"
        )
        for row in fetch_all(sql, args):
            parts[row[0]].append(dict(zip(metrics, row[1:], strict=True)))
    return {pk: _combine(rows) for pk, rows in parts.items()}


def _combine(rows: list[dict[str, Any]]) -> dict[str, float | None]:
    out: dict[str, float | None] = {}
    for name in rows[0]:
        values = [r[name] for r in rows if r[name] is not None]
        if not values:
            out[name] = None
        elif name.endswith("_max") or name == "mem_total":
            out[name] = max(values)
        elif name in _MEANS:
            weights = [r[_MEANS[name]] or 0 for r in rows if r[name] is not None]
            total = sum(weights)
            out[name] = (
                sum(v * w for v, w in zip(values, weights, strict=True)) / total if total else None
            )
        else:
            out[name] = sum(values)
    return out


# A mean over tiles is weighted by the time each tile covers.
_MEANS = {
    "util": "present_s",
    "power": "present_s",
    "mem_used": "present_s",
    "temp": "present_s",
    "sm_clock": "present_s",
    "gr_engine": "present_s",
    "tensor": "present_s",
    "dram": "present_s",
    "throttled_pct": "present_s",
    "kv_cache": "present_s",
}


def gpu_series(tr: TimeRange, gpu_ids: Sequence[int] | None = None) -> dict[int, Series]:
    """Every GPU metric per step, per GPU."""
    return _series(_GPU, GPU_METRICS, tr, gpu_ids)


def gpu_util_grid(
    tr: TimeRange, gpu_ids: Sequence[int] | None = None, step: int | None = None
) -> dict[int, Series]:
    """Average utilization per step per GPU: the heatmap's cells."""
    return _series(_GPU, {"util": GPU_METRICS["util"]}, tr, gpu_ids, step)


def steps(tr: TimeRange, step: int | None = None) -> list[datetime]:
    """Every step start from the range's start to its end: a chart's full x axis."""
    step = step or tr.step
    ts, out = _floor(tr.start, step), []
    while ts < tr.end:
        out.append(ts)
        ts += timedelta(seconds=step)
    return out


def aligned(series: Series | None, times: Sequence[datetime], metric: str) -> list[Any]:
    """A series' metric at each of `times`, None where it has no point (a gap, not zero)."""
    if series is None:
        return [None] * len(times)
    values = dict(zip(series.times, series.values[metric], strict=True))
    return [values.get(ts) for ts in times]


def fleet_mean(totals: dict[int, dict[str, float | None]], metric: str = "util") -> float | None:
    """A metric's mean over GPUs, each weighted by the time it reported."""
    rows = [t for t in totals.values() if t.get(metric) is not None and t.get("present_s")]
    weight = sum(t["present_s"] or 0 for t in rows)
    return sum((t[metric] or 0) * (t["present_s"] or 0) for t in rows) / weight if weight else None


def gpu_totals(
    tr: TimeRange, gpu_ids: Sequence[int] | None = None
) -> dict[int, dict[str, float | None]]:
    """Each GPU's averages and maxima over the range."""
    metrics = dict(GPU_METRICS)
    if tr.source == RAW:
        # Raw samples carry no covered time; weigh raw averages by sample count.
        metrics["present_s"] = ("SUM(present_s)", "COUNT(*)")
    return _totals(_GPU, metrics, tr, gpu_ids)


def _histograms(
    tile_list: Iterable[Tile],
    ids: Sequence[int] | None,
    step: int | None,
    names: Sequence[str] = HISTOGRAMS,
) -> dict[tuple[int, int], dict[str, list[Any]]]:
    """The stored latency histograms per (deployment, step start); step None: whole range."""
    out: dict[tuple[int, int], dict[str, list[Any]]] = defaultdict(lambda: defaultdict(list))
    decode = msgspec.json.decode
    for tile in tile_list:
        raw = tile[0] == RAW
        column = "ts" if raw else "bucket"
        when = bucket_start(column, step) if step else "0"
        where, args = _where(_DEPLOYMENT, tile, ids)
        text = "::text" if connection.vendor == "postgresql" else ""
        hists = ", ".join(f"{h}{text}" for h in names)
        table = _DEPLOYMENT["raw" if raw else "rollup"]
        sql = f"SELECT deployment_id, {when}, {hists} FROM {table} WHERE {where}"
        for row in fetch_all(sql, args):
            slot = out[(row[0], int(step_time(row[1]).timestamp()))]
            for name, value in zip(names, row[2:], strict=True):
                if value is not None:
                    slot[name].append(decode(value) if isinstance(value, str) else value)
    return out


def deployment_totals(
    tr: TimeRange, deployment_ids: Sequence[int] | None = None, latency: bool = True
) -> dict[int, DeploymentFigures]:
    """Each deployment over the whole range: the deployments table (latency: percentiles too)."""
    totals = _totals(_DEPLOYMENT, DEPLOYMENT_METRICS, tr, deployment_ids)
    if not latency:
        return {pk: figures_of(values, {}) for pk, values in totals.items()}
    hists = _histograms(tiles(tr.start, tr.end, tr.source), deployment_ids, None)
    return {
        pk: figures_of(values, {h: merge(hists[(pk, 0)].get(h, [])) for h in HISTOGRAMS})
        for pk, values in totals.items()
    }


def deployment_series(
    tr: TimeRange, deployment_id: int
) -> tuple[list[datetime], list[DeploymentFigures]]:
    """One deployment's figures per step, latency percentiles included."""
    series = _series(_DEPLOYMENT, DEPLOYMENT_METRICS, tr, [deployment_id]).get(deployment_id)
    if series is None:
        return [], []
    tile = [(tr.source, tr.start, tr.end)]
    hists = _histograms(tile, [deployment_id], tr.step, SERIES_HISTOGRAMS)
    points = []
    for i, ts in enumerate(series.times):
        values = {name: column[i] for name, column in series.values.items()}
        slot = hists.get((deployment_id, int(ts.timestamp())), {})
        merged = {h: merge(slot.get(h, [])) for h in SERIES_HISTOGRAMS}
        points.append(figures_of(values, merged))
    return series.times, points


def deployment_volume_series(
    tr: TimeRange, step: int, deployment_ids: Sequence[int] | None = None
) -> dict[int, Series]:
    """Tokens and requests per step per deployment (for $ per 1M tokens over time)."""
    metrics = {k: DEPLOYMENT_METRICS[k] for k in ("requests", "prompt_tokens", "generation_tokens")}
    return _series(_DEPLOYMENT, metrics, tr, deployment_ids, step=step)
