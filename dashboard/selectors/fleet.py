"""The overview, nodes and GPU pages' figures."""

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db.models import Prefetch, QuerySet
from django.utils import timezone

from anomaly.choices import AnomalyStatus
from anomaly.selectors import anomalies_filtered
from collectors.models import Deployment, Gpu, Node
from collectors.selectors import gpus_with_latest
from costs.budgets import fleet_month_spend
from costs.economics.selectors import HeldDeployment, idle_held_deployments, idle_series
from costs.spend import (
    SpendTotals,
    blended_usd_per_1m,
    cost_window,
    spend_by_group,
    spend_steps,
    totals_of,
)
from dashboard.charts.gpu import gpu_charts
from dashboard.charts.heatmap import utilization_heatmap
from dashboard.charts.layout import step_label
from dashboard.charts.spend import spend_chart
from dashboard.economics import IdleSplit, idle_split
from dashboard.selectors.scope import PageRange
from inferscope.lib.timerange import TimeRange
from recommendations.models import Recommendation
from recommendations.selectors import open_totals, top_open
from telemetry import usage

ONLINE = timedelta(minutes=2)  # an agent that reports every 10 s has missed ~12 batches
MAX_HEATMAP_GPUS = 256
# Fewer columns than a line chart's points: ~5 px each at 1280 px is still readable,
# and a 64-GPU month is 15,000 cells instead of 23,000.
HEATMAP_COLUMNS = 240
HELD_SHOWN = 5  # idle-held deployments listed at the top; the costs page's table has all


@dataclass(frozen=True)
class OverviewPage:
    gpu_count: int
    node_count: int
    # The rest only for a fleet with GPUs: the template shows a getting-started note else.
    held: list[HeldDeployment] = field(default_factory=list)
    held_more: bool = False
    split: IdleSplit | None = None
    online: int = 0
    avg_util: float | None = None
    month: Any = None  # the fleet's month so far (costs.budgets), without a label filter
    range_spend: SpendTotals | None = None
    usd_per_1m: float | None = None
    spend_since: datetime | None = None
    open_anomalies: int = 0
    top_recommendations: list[Recommendation] = field(default_factory=list)
    recommendation_totals: tuple[int, Decimal] | None = None
    heatmap: str | None = None
    heatmap_cut: int = 0
    spend_chart: str | None = None


def overview_page(pr: PageRange) -> OverviewPage:
    tr = pr.tr
    gpus = list(gpus_with_latest(pr.gpu_ids))
    gpu_count, node_count = len(gpus), len({g.node_id for g in gpus})
    if not gpus:
        return OverviewPage(gpu_count, node_count)
    now = timezone.now()
    shown = gpus[:MAX_HEATMAP_GPUS]
    step = tr.step_for(HEATMAP_COLUMNS)
    grid = usage.gpu_util_grid(tr, [g.pk for g in shown], step)
    times = usage.steps(tr, step)
    cells = [usage.aligned(grid.get(g.pk), times, "util") for g in shown]
    rows = spend_steps(tr.start, tr.end, tr.step, pr.cost_scope)
    spend = totals_of(rows)
    deployments = {d["id"]: d for d in Deployment.objects.values("id", "name", "node__name")}
    spend_times, groups = spend_by_group(rows, deployments, "deployment")
    # The same whole hours as the spend: the split adds up to "Spend in range".
    since = cost_window(tr).start
    held = idle_held_deployments(since, tr.end, pr.deployment_ids, limit=HELD_SHOWN + 1)
    span = int((tr.end - since).total_seconds()) + 3600  # one or two steps: the totals
    return OverviewPage(
        gpu_count,
        node_count,
        held=held[:HELD_SHOWN],
        held_more=len(held) > HELD_SHOWN,
        split=idle_split(idle_series(since, tr.end, span, pr.cost_scope)),
        online=sum(1 for g in gpus if _seen_since(g, now - ONLINE)),
        avg_util=usage.fleet_mean(usage.gpu_totals(tr, pr.gpu_ids)),
        month=fleet_month_spend(now) if pr.deployment_ids is None else None,
        range_spend=spend,
        usd_per_1m=blended_usd_per_1m(tr, spend.usd, pr.deployment_ids),
        spend_since=since,
        open_anomalies=anomalies_filtered(
            status=AnomalyStatus.OPEN,
            start=tr.start,
            end=tr.end,
            deployment_ids=pr.deployment_ids,
            gpu_ids=pr.gpu_ids,
        ).count(),
        top_recommendations=list(top_open(3)),
        recommendation_totals=open_totals(),
        heatmap=utilization_heatmap([_gpu_name(g) for g in shown], times, cells),
        heatmap_cut=len(gpus) - len(shown),
        spend_chart=spend_chart(
            "spend", spend_times, groups, step_label(max(tr.step, 3600)), (tr.start, tr.end)
        )
        if groups
        else None,
    )


def _seen_since(gpu: Gpu, since: datetime) -> bool:
    last = getattr(gpu, "last_ts", None)
    return last is not None and last >= since


def _gpu_name(gpu: Gpu) -> str:
    return f"{gpu.node.name} #{gpu.index if gpu.index is not None else gpu.uuid[:8]}"


@dataclass(frozen=True)
class NodesPage:
    # Each node with `gpu_rows`: its GPUs (in the filter), each with `range`, its totals.
    nodes: list[Node]


def nodes_page(pr: PageRange) -> NodesPage:
    gpus = gpus_with_latest(pr.gpu_ids).prefetch_related(
        Prefetch("deployments", queryset=Deployment.objects.only("id", "name"))
    )
    totals = usage.gpu_totals(pr.tr, pr.gpu_ids)
    by_node: dict[int, list[Gpu]] = {}
    for gpu in gpus:
        gpu.range = totals.get(gpu.pk, {})  # type: ignore[attr-defined]
        by_node.setdefault(gpu.node_id, []).append(gpu)
    node_list = []
    for node in (
        Node.objects.filter(pk__in=by_node) if pr.gpu_ids is not None else Node.objects.all()
    ):
        node.gpu_rows = by_node.get(node.pk, [])  # type: ignore[attr-defined]
        node_list.append(node)
    return NodesPage(node_list)


@dataclass(frozen=True)
class GpuPage:
    gpu: Gpu
    deployments: QuerySet[Deployment]
    charts: dict[str, str | None]
    totals: dict[str, float | None]


def gpu_page(gpu: Gpu, tr: TimeRange) -> GpuPage:
    series = usage.gpu_series(tr, [gpu.pk]).get(gpu.pk)
    charts = {}
    if series is not None:
        times = usage.steps(tr)
        values = {metric: usage.aligned(series, times, metric) for metric in series.values}
        charts = gpu_charts(times, values, (tr.start, tr.end))
    return GpuPage(
        gpu,
        gpu.deployments.select_related("node").order_by("name"),
        charts,
        usage.gpu_totals(tr, [gpu.pk]).get(gpu.pk, {}),
    )
