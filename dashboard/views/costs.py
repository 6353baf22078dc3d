"""The costs page: spend over time, idle, $ per 1M tokens, budgets, chargeback, prices."""

from django.http import HttpRequest, HttpResponse

from collectors.selectors import deployment_label_keys
from dashboard.forms import CostGroupingForm
from dashboard.selectors.costs import costs_page
from dashboard.selectors.scope import context_of
from dashboard.views.common import page_range, render_ranged


def costs(request: HttpRequest) -> HttpResponse:
    pr = page_range(request, default="30d")
    form = CostGroupingForm(request.GET, label_keys=deployment_label_keys())
    by = form.cleaned_data["by"] if form.is_valid() else "deployment"
    context = {"form": form, **context_of(costs_page(pr, by))}
    response = render_ranged(request, "dashboard/costs.html", pr, context)
    if not form.is_valid():
        response.status_code = 400
    return response
