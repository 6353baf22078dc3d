"""Overview, nodes and GPU pages."""

from datetime import datetime, timedelta

from django.db.models import Prefetch
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.utils import timezone

from anomaly.choices import AnomalyStatus
from anomaly.selectors import anomalies_filtered
from collectors.models import Deployment, Gpu, Node
from collectors.selectors import gpus_with_latest
from costs.budgets import fleet_month_spend
from costs.economics.selectors import idle_held_deployments, idle_series
from costs.spend import blended_usd_per_1m, cost_window, spend_by_group, spend_steps, totals_of
from dashboard.charts.gpu import gpu_charts
from dashboard.charts.heatmap import utilization_heatmap
from dashboard.charts.spend import spend_chart
from dashboard.economics import idle_split
from dashboard.views.common import page_range, render_ranged
from recommendations.selectors import open_totals, top_open
from telemetry import usage

ONLINE = timedelta(minutes=2)  # an agent that reports every 10 s has missed ~12 batches
MAX_HEATMAP_GPUS = 256
# Fewer columns than a line chart's points: ~5 px each at 1280 px is still readable,
# and a 64-GPU month is 15,000 cells instead of 23,000.
HEATMAP_COLUMNS = 240
HELD_SHOWN = 5  # idle-held deployments listed at the top; the costs page's table has all


def step_label(step: int) -> str:
    if step % 86400 == 0:
        return "day" if step == 86400 else f"{step // 86400} days"
    if step % 3600 == 0:
        return "hour" if step == 3600 else f"{step // 3600} hours"
    return f"{step // 60} min"


def overview(request: HttpRequest) -> HttpResponse:
    pr = page_range(request)
    tr = pr.tr
    gpus = list(gpus_with_latest(pr.gpu_ids))
    context: dict = {"gpu_count": len(gpus), "node_count": len({g.node_id for g in gpus})}
    if gpus:
        now = timezone.now()
        shown = gpus[:MAX_HEATMAP_GPUS]
        step = tr.step_for(HEATMAP_COLUMNS)
        grid = usage.gpu_util_grid(tr, [g.pk for g in shown], step)
        times = usage.steps(tr, step)
        cells = [usage.aligned(grid.get(g.pk), times, "util") for g in shown]
        totals = usage.gpu_totals(tr, pr.gpu_ids)
        rows = spend_steps(tr.start, tr.end, tr.step, pr.cost_scope)
        spend = totals_of(rows)
        deployments = {d["id"]: d for d in Deployment.objects.values("id", "name", "node__name")}
        spend_times, groups = spend_by_group(rows, deployments, "deployment")
        # The same whole hours as the spend: the split adds up to "Spend in range".
        since = cost_window(tr).start
        held = idle_held_deployments(since, tr.end, pr.deployment_ids, limit=HELD_SHOWN + 1)
        span = int((tr.end - since).total_seconds()) + 3600  # one or two steps: the totals
        context.update(
            held=held[:HELD_SHOWN],
            held_more=len(held) > HELD_SHOWN,
            split=idle_split(idle_series(since, tr.end, span, pr.cost_scope)),
            online=sum(1 for g in gpus if _seen_since(g, now - ONLINE)),
            avg_util=usage.fleet_mean(totals),
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
            top_recommendations=top_open(3),
            recommendation_totals=open_totals(),
            heatmap=utilization_heatmap([_gpu_name(g) for g in shown], times, cells),
            heatmap_cut=len(gpus) - len(shown),
            spend_chart=spend_chart(
                "spend", spend_times, groups, step_label(max(tr.step, 3600)), (tr.start, tr.end)
            )
            if groups
            else None,
        )
    return render_ranged(request, "dashboard/overview.html", pr, context)


def _seen_since(gpu: Gpu, since: datetime) -> bool:
    last = getattr(gpu, "last_ts", None)
    return last is not None and last >= since


def _gpu_name(gpu: Gpu) -> str:
    return f"{gpu.node.name} #{gpu.index if gpu.index is not None else gpu.uuid[:8]}"


def nodes(request: HttpRequest) -> HttpResponse:
    pr = page_range(request)
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
    return render_ranged(request, "dashboard/nodes.html", pr, {"nodes": node_list})


def gpu_detail(request: HttpRequest, pk: int) -> HttpResponse:
    gpu = get_object_or_404(Gpu.objects.select_related("node"), pk=pk)
    pr = page_range(request)
    tr = pr.tr
    series = usage.gpu_series(tr, [gpu.pk]).get(gpu.pk)
    charts = {}
    if series is not None:
        times = usage.steps(tr)
        values = {metric: usage.aligned(series, times, metric) for metric in series.values}
        charts = gpu_charts(times, values, (tr.start, tr.end))
    context = {
        "gpu": gpu,
        "deployments": gpu.deployments.select_related("node").order_by("name"),
        "charts": charts,
        "totals": usage.gpu_totals(tr, [gpu.pk]).get(gpu.pk, {}),
    }
    return render_ranged(request, "dashboard/gpu.html", pr, context)
