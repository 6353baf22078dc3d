"""The series the detectors score, read from rollups on a regular time grid.

A bucket with no rollup is a None point: the detector decides whether the gap
is missing data. Series are keyed by (metric, entity), entity being
"gpu:<id>" or "deployment:<id>".
"""

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import connection

from anomaly.detectors import Point
from costs.spend import Row as SpendRow
from costs.spend import Scope, spend_steps
from inferscope.lib.sql import epoch, param
from inferscope.lib.timerange import HOUR
from telemetry.choices import Resolution
from telemetry.models import GpuRollup
from telemetry.reader import InferenceBucket, inference_buckets

Series = dict[tuple[str, str], list[Point]]


@dataclass(frozen=True)
class Metric:
    name: str
    label: str  # how a sentence names it
    unit: str
    resolution: int


METRICS = {
    m.name: m
    for m in (
        Metric("gpu.util", "GPU utilization", "%", Resolution.MINUTE),
        Metric("gpu.power", "power", "W", Resolution.MINUTE),
        Metric("gpu.temperature", "temperature", "°C", Resolution.MINUTE),
        Metric("deployment.ttft_p95", "p95 TTFT", "s", Resolution.MINUTE),
        Metric("deployment.e2e_p95", "p95 end-to-end latency", "s", Resolution.MINUTE),
        Metric("deployment.tokens_per_s", "generated tokens/s", "tok/s", Resolution.MINUTE),
        Metric("deployment.error_rate", "error rate", "", Resolution.MINUTE),
        Metric("deployment.cost_per_hour", "cost per hour", "$", Resolution.HOUR),
        Metric("deployment.cost_per_1m_tokens", "cost per 1M tokens", "$", Resolution.HOUR),
        Metric("fleet.cost_per_hour", "total GPU spend per hour", "$", Resolution.HOUR),
        # Written by anomaly.silence when every GPU of a node is missing at once.
        Metric("node.presence", "data from the agent", "", Resolution.MINUTE),
        # Scored together by the multivariate detector (IsolationForest).
        Metric("gpu.multivariate", "the combination of GPU metrics", "", Resolution.MINUTE),
        Metric(
            "deployment.multivariate", "the combination of serving metrics", "", Resolution.MINUTE
        ),
    )
}


def ratio(a: float, b: float) -> float | None:
    return a / b if b else None


_DEPLOYMENT_VALUES: dict[str, Callable[[InferenceBucket], float | None]] = {
    "deployment.ttft_p95": lambda r: r.p("ttft_hist", 0.95),
    "deployment.e2e_p95": lambda r: r.p("e2e_hist", 0.95),
    "deployment.tokens_per_s": lambda r: ratio(r["generation_tokens"], r["present_s"]),
    "deployment.error_rate": lambda r: ratio(r["requests_error"], r.requests),
}
# What those read from each minute rollup.
_DEPLOYMENT_COLUMNS = (
    "generation_tokens",
    "present_s",
    "requests_ok",
    "requests_error",
    "requests_aborted",
)
_DEPLOYMENT_HISTOGRAMS = ("ttft_hist", "e2e_hist")


def grid(start: datetime, end: datetime, step: int) -> list[datetime]:
    out, ts = [], start
    while ts < end:
        out.append(ts)
        ts += timedelta(seconds=step)
    return out


def _fill(
    values: dict[tuple[str, str], dict[datetime, float | None]], stamps: list[datetime]
) -> Series:
    """Each series on the grid from its first bucket on: before that it did not exist."""
    series = {}
    for key, by_ts in values.items():
        first = min(by_ts)
        get = by_ts.get
        series[key] = [Point(ts, get(ts)) for ts in stamps if ts >= first]
    return series


def gpu_series(start: datetime, end: datetime, gpu_id: int | None = None) -> Series:
    """Per-minute utilization, power and temperature of every GPU seen in [start, end)
    (or of one GPU)."""
    values: dict[tuple[str, str], dict[datetime, float | None]] = defaultdict(dict)
    stamps = grid(start, end, Resolution.MINUTE)
    # Buckets come back as epoch seconds and map onto the grid's own datetimes:
    # parsing a timestamp per row was a third of the job's time.
    at = {int(ts.timestamp()): ts for ts in stamps}
    sql = (
        f"SELECT gpu_id, {epoch('bucket')}, util_sum, util_n, power_sum, power_n, temp_sum, temp_n"
        f" FROM {GpuRollup._meta.db_table} WHERE resolution = %s AND bucket >= %s AND bucket < %s"
    )
    params: list[Any] = [Resolution.MINUTE, param(start), param(end)]
    if gpu_id is not None:
        sql += " AND gpu_id = %s"
        params.append(gpu_id)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        for gpu_id, seconds, util_s, util_n, power_s, power_n, temp_s, temp_n in cursor:
            ts = at.get(int(seconds))
            if ts is None:
                continue
            entity = f"gpu:{gpu_id}"
            # A metric the GPU never reports (no NVML support) makes no series,
            # rather than a series that is all missing data.
            if util_n:
                values[("gpu.util", entity)][ts] = util_s / util_n
            if power_n:
                values[("gpu.power", entity)][ts] = power_s / power_n
            if temp_n:
                values[("gpu.temperature", entity)][ts] = temp_s / temp_n
    return _fill(values, stamps)


def deployment_series(start: datetime, end: datetime, deployment_id: int | None = None) -> Series:
    """Per-minute latency, throughput and errors of every deployment seen in [start, end)
    (or of one deployment)."""
    values: dict[tuple[str, str], dict[datetime, float | None]] = defaultdict(dict)
    rows = inference_buckets(
        Resolution.MINUTE,
        start,
        end,
        None if deployment_id is None else [deployment_id],
        columns=_DEPLOYMENT_COLUMNS,
        histograms=_DEPLOYMENT_HISTOGRAMS,
    )
    for row in rows:
        entity = f"deployment:{row.deployment_id}"
        for metric, value in _DEPLOYMENT_VALUES.items():
            result = value(row)
            if result is not None:
                values[(metric, entity)][row.bucket] = result
    return _fill(values, grid(start, end, Resolution.MINUTE))


def cost_series(start: datetime, end: datetime, entity: str | None = None) -> Series:
    """Hourly $ and $ per 1M tokens of every deployment costed in [start, end), and the
    fleet's spend; or only those of one entity ("deployment:<id>" or "fleet")."""
    values: dict[tuple[str, str], dict[datetime, float | None]] = defaultdict(dict)
    kind, _, pk = (entity or "").partition(":")
    one = int(pk) if kind == "deployment" and pk.isdigit() else None
    if entity is None or one is not None or entity == "fleet":
        scope = Scope() if one is None else Scope(deployment_ids=[one])
        rows = spend_steps(start, end, HOUR, scope)
        if entity is None or one is not None:
            _deployment_costs(values, rows, start, end, one)
        if entity is None or entity == "fleet":
            fleet: dict[datetime, float] = defaultdict(float)
            for hour, _dep, usd, _held in rows:
                fleet[hour] += float(usd)
            if fleet:
                values[("fleet.cost_per_hour", "fleet")] = dict(fleet)
    return _fill(values, grid(start, end, Resolution.HOUR))


def _deployment_costs(
    values: dict[tuple[str, str], dict[datetime, float | None]],
    rows: list[SpendRow],
    start: datetime,
    end: datetime,
    one: int | None,
) -> None:
    rollups = inference_buckets(
        Resolution.HOUR,
        start,
        end,
        None if one is None else [one],
        columns=("prompt_tokens", "generation_tokens"),
    )
    tokens = {
        (r.deployment_id, r.bucket): r["prompt_tokens"] + r["generation_tokens"] for r in rollups
    }
    for hour, dep, usd_decimal, _held in rows:
        if dep is None:
            continue
        entity = f"deployment:{dep}"
        usd = float(usd_decimal)
        values[("deployment.cost_per_hour", entity)][hour] = usd
        per_token = ratio(usd, tokens.get((dep, hour), 0))
        values[("deployment.cost_per_1m_tokens", entity)][hour] = (
            None if per_token is None else per_token * 1e6
        )
