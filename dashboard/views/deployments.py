"""Deployments list and one deployment's page."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404

from collectors.models import Deployment
from costs import usage
from costs.spend import Scope, cost_window, deployment_cost_steps, deployment_spend
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
    spend = deployment_spend(tr, pr.cost_scope)
    table = [
        {
            "deployment": dep,
            "figures": figures.get(dep.pk),
            "usd": spend.get(dep.pk, (None, None))[0],
            "usd_per_1m": spend.get(dep.pk, (None, None))[1],
        }
        for dep in rows
    ]
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
    context = {
        "deployment": dep,
        "gpus": dep.gpus.select_related("node").order_by("node__name", "index"),
        "totals": totals,
        "usd": usd,
        "usd_per_1m": deployment_spend(tr, Scope([dep.pk])).get(dep.pk, (None, None))[1],
        "spend_since": cost_window(tr).start,
        "charts": charts,
        "latencies": LATENCIES,
    }
    return render_ranged(request, "dashboard/deployment.html", pr, context)
