"""Spend over time from the hourly cost records, for the dashboard's charts and KPIs.

Cost is attributed per hour, so a step is never shorter than an hour here.
A label filter keeps the matching deployments' shares and the idle time of
the GPUs they run on; without a filter the figures add up to the whole bill.
"""

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db.models import Count, Q, Sum

from costs.models import CostRecord, HourlySpend
from costs.selectors import IDLE_KEY, group_key, parse_grouping
from inferscope.lib.money import micro
from inferscope.lib.sql import bucket_start, fetch_all, param, placeholders, step_time
from inferscope.lib.timerange import HOUR, TimeRange, hour_floor
from telemetry.usage import DeploymentFigures, Series, deployment_totals, deployment_volume_series

ZERO = Decimal(0)


@dataclass(frozen=True)
class Scope:
    """Which cost rows count: None for everything, else these deployments and GPUs' idle."""

    deployment_ids: Sequence[int] | None = None
    gpu_ids: Sequence[int] | None = None

    def sql(self) -> tuple[str, list[Any]]:
        if self.deployment_ids is None:
            return "", []
        deps = list(self.deployment_ids) or [-1]
        gpus = list(self.gpu_ids or [])
        if not gpus:
            return f" AND deployment_id IN ({placeholders(len(deps))})", deps
        sql = (
            f" AND (deployment_id IN ({placeholders(len(deps))})"
            f" OR (deployment_id IS NULL AND gpu_id IN ({placeholders(len(gpus))})))"
        )
        return sql, [*deps, *gpus]


@dataclass
class SpendTotals:
    usd: Decimal = ZERO
    idle_usd: Decimal = ZERO  # no deployment, or held by one that served nothing
    by_deployment: dict[int, Decimal] = field(default_factory=dict)

    @property
    def idle_share(self) -> float | None:
        return float(self.idle_usd / self.usd) if self.usd else None


Row = tuple[datetime, int | None, Decimal, Decimal]  # step, deployment (None: idle), $, $ idle-held


def cost_window(tr: TimeRange) -> TimeRange:
    """The range from the start of its first hour: what spend_steps covers.

    Cost is attributed per whole hour, so tokens set against it must be counted
    over the same hours, or a range starting at 09:55 divides the 09:00 hour's
    dollars by five minutes of tokens.
    """
    return replace(tr, start=hour_floor(tr.start))


def tokens_of(figures: DeploymentFigures | None) -> float:
    return (figures.prompt_tokens + figures.generation_tokens) if figures else 0.0


def per_1m(usd: Decimal | float | None, tokens: float) -> float | None:
    return float(usd) / tokens * 1e6 if usd is not None and tokens else None


def deployment_spend(
    tr: TimeRange, scope: Scope = Scope()
) -> dict[int, tuple[Decimal, float | None]]:
    """Each deployment's $ over the range's hours and its $ per 1M tokens over the same hours."""
    usd = spend_totals(tr.start, tr.end, scope).by_deployment
    volumes = deployment_totals(cost_window(tr), list(usd), latency=False)
    return {dep: (value, per_1m(value, tokens_of(volumes.get(dep)))) for dep, value in usd.items()}


def blended_usd_per_1m(
    tr: TimeRange, usd: Decimal, deployment_ids: Sequence[int] | None
) -> float | None:
    """All the spend (idle included) over all the tokens of the same hours."""
    volumes = deployment_totals(cost_window(tr), deployment_ids, latency=False)
    return per_1m(usd, sum(tokens_of(v) for v in volumes.values()))


def spend_steps(start: datetime, end: datetime, step: int, scope: Scope = Scope()) -> list[Row]:
    """(step start, deployment id or None for idle, $, $ idle-held) per step and deployment."""
    step = max(step, HOUR)
    where, args = scope.sql()
    if scope.gpu_ids:
        # The idle time of particular GPUs: only the per-GPU records have it.
        table, held = CostRecord._meta.db_table, "idle_held_usd"
    else:
        table, held = HourlySpend._meta.db_table, "idle_held_usd"
    sql = (
        f"SELECT {bucket_start('hour', step)} AS t, deployment_id, SUM(usd), SUM({held})"
        f" FROM {table} WHERE hour >= %s AND hour < %s{where}"
        " GROUP BY t, deployment_id ORDER BY t"
    )
    rows = fetch_all(sql, [param(hour_floor(start)), param(end), *args])
    return [(step_time(t), dep, micro(usd), micro(held)) for t, dep, usd, held in rows]


def totals_of(rows: Sequence[Row]) -> SpendTotals:
    """The totals of rows spend_steps returned, without another query."""
    totals = SpendTotals()
    for _, dep, usd, held in rows:
        totals.usd += usd
        totals.idle_usd += usd if dep is None else held
        if dep is not None:
            totals.by_deployment[dep] = totals.by_deployment.get(dep, ZERO) + usd
    return totals


def spend_totals(start: datetime, end: datetime, scope: Scope = Scope()) -> SpendTotals:
    return totals_of(spend_steps(start, end, int((end - start).total_seconds()) + HOUR, scope))


def group_of(by: str, deployment: Mapping[str, Any] | None) -> str:
    """The chart group of a deployment, named as the chargeback table names it: its value
    of the label `by` names, else (node and GPU groupings too) the deployment."""
    kind, key = parse_grouping(by)
    return group_key(kind if kind == "label" else "deployment", key, None, deployment)


def spend_by_group(
    rows: Sequence[tuple[datetime, int | None, Decimal, Decimal]],
    deployments: Mapping[int, Mapping[str, Any]],
    by: str,
) -> tuple[list[datetime], dict[str, list[float]]]:
    """Steps and, per group (deployment or label value, plus idle), $ at each step."""
    times = sorted({row[0] for row in rows})
    index = {ts: i for i, ts in enumerate(times)}
    groups: dict[str, list[float]] = defaultdict(lambda: [0.0] * len(times))
    for ts, dep, usd, _ in rows:
        groups[group_of(by, deployments.get(dep) if dep else None)][index[ts]] += float(usd)
    ordered = sorted(groups.items(), key=lambda kv: (kv[0] == IDLE_KEY, -sum(kv[1])))
    return times, dict(ordered)


def step_tokens(series: Series) -> dict[datetime, float]:
    """Prompt plus generated tokens at each step of a deployment_volume_series."""
    values = series.values
    return {
        ts: (prompt or 0) + (generated or 0)
        for ts, prompt, generated in zip(
            series.times, values["prompt_tokens"], values["generation_tokens"], strict=True
        )
    }


def usd_per_1m_by_group(
    tr: TimeRange,
    deployments: Mapping[int, Mapping[str, Any]],
    by: str,
    scope: Scope = Scope(),
    rows: Sequence[Row] | None = None,
) -> tuple[list[datetime], dict[str, list[float | None]]]:
    """$ per 1M tokens per step for each group (deployment or label value), idle cost left out.

    `rows`: spend_steps at the range's step, when the caller has them already.
    """
    step = max(tr.step, HOUR)
    usd: dict[tuple[str, datetime], float] = defaultdict(float)
    tokens: dict[tuple[str, datetime], float] = defaultdict(float)
    for ts, dep, value, _ in (
        rows if rows is not None else spend_steps(tr.start, tr.end, step, scope)
    ):
        if dep is not None and dep in deployments:
            usd[(group_of(by, deployments[dep]), ts)] += float(value)
    volumes = deployment_volume_series(cost_window(tr), step, scope.deployment_ids)
    for dep, series in volumes.items():
        if dep not in deployments:
            continue
        group = group_of(by, deployments[dep])
        for ts, count in step_tokens(series).items():
            tokens[(group, ts)] += count
    times = sorted({ts for _, ts in usd})
    groups = sorted({g for g, _ in usd})
    return times, {g: [per_1m(usd[(g, t)], tokens.get((g, t), 0.0)) for t in times] for g in groups}


COST_CELL_GROUPS = ("hour", "gpu", "deployment")


@dataclass(frozen=True)
class CostCell:
    """The cost records of one group over a window, summed as stored (no rounding):
    a field the grouping leaves out is None."""

    hour: datetime | None
    gpu_id: int | None
    deployment_id: int | None
    usd: Decimal
    gpu_hours: float
    idle_held_usd: Decimal  # held by a deployment that served nothing
    idle_held_hours: float
    unheld_usd: Decimal  # no deployment on the GPU: truly idle
    hours: int  # distinct hours with a record


def cost_cells(
    start: datetime,
    end: datetime,
    by: Sequence[str],
    *,
    deployment_ids: Sequence[int] | None = None,
    gpu_ids: Sequence[int] | None = None,
    deployed: bool = False,
    charged: bool = False,
) -> list[CostCell]:
    """$ and GPU-hours of [start, end) per group of `by` (any of hour, gpu, deployment),
    of the given deployments' shares or the given GPUs' records (shares and idle);
    `deployed` leaves idle records out, `charged` keeps only records that cost something."""
    unknown = set(by) - set(COST_CELL_GROUPS)
    if unknown:
        raise ValueError(f"cost_cells groups by {COST_CELL_GROUPS}, not {sorted(unknown)}")
    records = CostRecord.objects.filter(hour__gte=start, hour__lt=end)
    if deployment_ids is not None:
        records = records.filter(deployment_id__in=list(deployment_ids))
    if gpu_ids is not None:
        records = records.filter(gpu_id__in=list(gpu_ids))
    if deployed:
        records = records.filter(deployment__isnull=False)
    if charged:
        records = records.filter(usd__gt=0)
    columns = {"hour": "hour", "gpu": "gpu_id", "deployment": "deployment_id"}
    rows = records.values(*(columns[g] for g in by)).annotate(
        usd_sum=Sum("usd"),
        hours_sum=Sum("gpu_hours"),
        held_sum=Sum("idle_held_usd"),
        held_hours_sum=Sum("idle_held_hours"),
        unheld_sum=Sum("usd", filter=Q(deployment__isnull=True)),
        hour_count=Count("hour", distinct=True),
    )
    return [
        CostCell(
            hour=row.get("hour"),
            gpu_id=row.get("gpu_id"),
            deployment_id=row.get("deployment_id"),
            usd=row["usd_sum"] if row["usd_sum"] is not None else ZERO,
            gpu_hours=row["hours_sum"] or 0.0,
            idle_held_usd=row["held_sum"] if row["held_sum"] is not None else ZERO,
            idle_held_hours=row["held_hours_sum"] or 0.0,
            unheld_usd=row["unheld_sum"] if row["unheld_sum"] is not None else ZERO,
            hours=row["hour_count"],
        )
        for row in rows
    ]


def gpu_rates(
    start: datetime,
    end: datetime,
    *,
    gpu_ids: Sequence[int] | None = None,
    deployment_ids: Sequence[int] | None = None,
    charged: bool = False,
) -> dict[int, Decimal]:
    """Each GPU's $ per hour in its latest priced hour of [start, end), over its records
    or only the given deployments' shares; `charged` skips hours priced at $0."""
    records = CostRecord.objects.filter(hour__gte=start, hour__lt=end, priced=True)
    if gpu_ids is not None:
        records = records.filter(gpu_id__in=list(gpu_ids))
    if deployment_ids is not None:
        records = records.filter(deployment_id__in=list(deployment_ids))
    if charged:
        records = records.filter(rate_usd_per_hour__gt=0)
    out: dict[int, Decimal] = {}
    for gpu, rate in records.order_by("gpu_id", "-hour", "id").values_list(
        "gpu_id", "rate_usd_per_hour"
    ):
        out.setdefault(gpu, rate)
    return out
