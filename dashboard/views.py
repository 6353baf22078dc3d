from urllib.parse import urlencode

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone

from collectors.selectors import deployment_label_keys, fleet_nodes
from costs.breakeven import break_evens
from costs.budgets import budget_statuses
from costs.report import report_rows
from costs.selectors import IDLE_KEY, unpriced_gpus
from dashboard.forms import CostReportForm


def overview(request: HttpRequest) -> HttpResponse:
    return render(request, "dashboard/overview.html", {"nodes": fleet_nodes()})


def costs(request: HttpRequest) -> HttpResponse:
    data = {**CostReportForm.defaults(timezone.now().date()), **request.GET.dict()}
    form = CostReportForm(data, label_keys=deployment_label_keys())
    if not form.is_valid():
        return render(request, "dashboard/costs.html", {"form": form}, status=400)
    start, end, by = form.period()
    period = {name: form.cleaned_data[name] for name in ("start", "end", "by")}
    context = {
        "form": form,
        "rows": report_rows(start, end, by),
        "idle_key": IDLE_KEY,
        "show_carbon": settings.COST_GRID_GCO2_PER_KWH is not None,
        "report_url": f"{reverse('costs:report')}?{urlencode(period)}",
        "budgets": budget_statuses(),
        "unpriced": unpriced_gpus(start, end),
        "break_evens": break_evens(start, end),
    }
    return render(request, "dashboard/costs.html", context)
