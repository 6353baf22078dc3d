"""Deployments list and one deployment's page."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404

from collectors.models import Deployment
from costs import usage
from costs.spend import deployment_cost_steps, spend_totals
from dashboard.charts.deployment import LATENCIES, deployment_charts, deployment_cost_charts
from dashboard.views.common import page_range, render_ranged
from dashboard.views.fleet import step_label


def deployments(request: HttpRequest) -> HttpResponse:
    pr = page_range(request)
    tr = pr.tr
    rows = Deployment.objects.select_related("node").order_by("name", "node__name")
    if pr.deployment_ids is not None:
        rows = rows.filter(pk__in=pr.deployment_ids)
    figures = usage.deployment_totals(tr, pr.deployment_ids)
    spend = spend_totals(tr.start, tr.end, pr.cost_scope).by_deployment
    table = []
    for dep in rows:
        fig = figures.get(dep.pk)
        usd = spend.get(dep.pk)
        tokens = (fig.prompt_tokens + fig.generation_tokens) if fig else 0
        table.append(
            {
                "deployment": dep,
                "figures": fig,
                "usd": usd,
                "usd_per_1m": float(usd) / tokens * 1e6 if usd is not None and tokens else None,
            }
        )
    return render_ranged(request, "dashboard/deployments.html", pr, {"rows": table})


def deployment_detail(request: HttpRequest, pk: int) -> HttpResponse:
    dep = get_object_or_404(Deployment.objects.select_related("node"), pk=pk)
    pr = page_range(request)
    tr = pr.tr
    times, points = usage.deployment_series(tr, dep.pk)
    totals = usage.deployment_totals(tr, [dep.pk]).get(dep.pk)
    x_range = (tr.start, tr.end)
    charts = deployment_charts(times, points, x_range)
    cost_times, cost, per_1m, usd = deployment_cost_steps(tr, dep.pk)
    label = step_label(max(tr.step, 3600))
    charts.update(deployment_cost_charts(dep.name, cost_times, cost, per_1m, label, x_range))
    tokens_total = (totals.prompt_tokens + totals.generation_tokens) if totals else 0
    context = {
        "deployment": dep,
        "gpus": dep.gpus.select_related("node").order_by("node__name", "index"),
        "totals": totals,
        "usd": usd,
        "usd_per_1m": float(usd) / tokens_total * 1e6 if tokens_total else None,
        "charts": charts,
        "latencies": LATENCIES,
    }
    return render_ranged(request, "dashboard/deployment.html", pr, context)
