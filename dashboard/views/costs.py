"""The costs page: spend over time, idle, $ per 1M tokens, budgets, chargeback, prices."""

from datetime import timedelta
from urllib.parse import urlencode

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.urls import reverse

from collectors.models import Deployment
from collectors.selectors import deployment_label_keys
from costs.breakeven import break_evens
from costs.budgets import budget_statuses
from costs.economics.selectors import deployment_economics, idle_series
from costs.models import NodePrice, PriceBookEntry
from costs.report import report_rows
from costs.selectors import IDLE_KEY, unpriced_gpus
from costs.spend import cost_window, spend_by_group, spend_steps, totals_of, usd_per_1m_by_group
from dashboard.charts.budget import budget_chart
from dashboard.charts.idle import idle_chart
from dashboard.charts.lines import line_chart
from dashboard.charts.spend import spend_chart
from dashboard.economics import idle_split, unit_rows
from dashboard.forms import CostGroupingForm
from dashboard.views.common import page_range, render_ranged
from dashboard.views.fleet import step_label


def costs(request: HttpRequest) -> HttpResponse:
    pr = page_range(request, default="30d")
    tr = pr.tr
    form = CostGroupingForm(request.GET, label_keys=deployment_label_keys())
    by = form.cleaned_data["by"] if form.is_valid() else "deployment"
    # Whole hours, the end one included when the range ends inside it: the
    # table and its download cover exactly the same cost records.
    start = tr.start.replace(minute=0, second=0, microsecond=0)
    end = tr.end.replace(minute=0, second=0, microsecond=0)
    if end < tr.end:
        end += timedelta(hours=1)
    deployments = {
        d["id"]: d
        for d in Deployment.objects.values("id", "name", "node__name", "labels", "node__labels")
    }
    rows = spend_steps(tr.start, tr.end, tr.step, pr.cost_scope)
    times, groups = spend_by_group(rows, deployments, by)
    per_1m_times, per_1m = usd_per_1m_by_group(tr, deployments, by, pr.cost_scope, rows)
    steps = idle_series(cost_window(tr).start, tr.end, tr.step, pr.cost_scope)
    # Every deployment's figures once: the chargeback table covers the whole fleet,
    # and the unit table is the same figures with the label filter applied.
    figures = deployment_economics(start, end)
    shown = pr.deployment_ids
    units = figures if shown is None else {k: v for k, v in figures.items() if k in set(shown)}
    budgets = budget_statuses()
    period = {"start": start.strftime("%Y-%m-%dT%H:00"), "end": end.strftime("%Y-%m-%dT%H:00")}
    label = step_label(max(tr.step, 3600))
    context = {
        "form": form,
        "by": by,
        "totals": totals_of(rows),
        "split": idle_split(steps),
        "spend_since": cost_window(tr).start,
        "idle_chart": idle_chart("idle-split", steps, label, (tr.start, tr.end)),
        "spend_chart": spend_chart("spend", times, groups, label, (tr.start, tr.end))
        if groups
        else None,
        "per_1m_chart": line_chart(
            "usd-per-1m", per_1m_times, per_1m, "$ per 1M tokens", x_range=(tr.start, tr.end)
        ),
        "budget_chart": budget_chart(budgets) if budgets else None,
        "rows": report_rows(start, end, by, figures),
        # Over the chargeback's hours, the label filter applied (the table is the whole fleet).
        "units": unit_rows(units, deployments),
        "chart_by": "label" if by.startswith("label:") else "deployment",
        "idle_key": IDLE_KEY,
        "show_carbon": settings.COST_GRID_GCO2_PER_KWH is not None,
        "report_url": f"{reverse('costs:report')}?{urlencode({**period, 'by': by})}",
        "budgets": budgets,
        "unpriced": unpriced_gpus(start, end),
        "break_evens": break_evens(start, end),
        "prices": PriceBookEntry.objects.all(),
        "node_prices": NodePrice.objects.select_related("node"),
    }
    response = render_ranged(request, "dashboard/costs.html", pr, context)
    if not form.is_valid():
        response.status_code = 400
    return response
