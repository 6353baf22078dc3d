"""Anomalies: the filtered list, one anomaly with its chart, and its status buttons."""

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from anomaly.choices import AnomalyStatus
from anomaly.models import Anomaly
from anomaly.services import anomaly_set_status
from dashboard.forms import AnomalyFilterForm
from dashboard.selectors.anomalies import anomalies_page, anomaly_page
from dashboard.selectors.scope import context_of
from dashboard.views.common import page_range, render_ranged
from inferscope.lib.timerange import RANGE_PARAMS


def anomalies(request: HttpRequest) -> HttpResponse:
    pr = page_range(request, default="30d")
    asked = {k: v for k, v in request.GET.items() if k not in RANGE_PARAMS}
    form = AnomalyFilterForm(asked or {"status": AnomalyStatus.OPEN})
    page = anomalies_page(pr, form.cleaned_data if form.is_valid() else None)
    response = render_ranged(
        request, "dashboard/anomalies.html", pr, {"form": form, **context_of(page)}
    )
    if not form.is_valid():
        response.status_code = 400
    return response


def anomaly_detail(request: HttpRequest, pk: int) -> HttpResponse:
    anomaly = get_object_or_404(
        Anomaly.objects.select_related("gpu__node", "deployment__node", "node"), pk=pk
    )
    context = {
        **context_of(anomaly_page(anomaly)),
        "statuses": AnomalyStatus,
        "can_change": request.user.has_perm("anomaly.change_anomaly"),
    }
    return render(request, "dashboard/anomaly.html", context)


@require_POST
def anomaly_status(request: HttpRequest, pk: int) -> HttpResponse:
    if not request.user.has_perm("anomaly.change_anomaly"):
        raise PermissionDenied
    anomaly = get_object_or_404(Anomaly, pk=pk)
    status = request.POST.get("status", "")
    if status not in AnomalyStatus.values:
        return HttpResponseBadRequest(
            "status: choose open, acknowledged, resolved or false_positive"
        )
    anomaly_set_status(anomaly, status, request.user)  # type: ignore[arg-type]
    messages.success(request, f"Marked {AnomalyStatus(status).label.lower()}.")
    return redirect("dashboard:anomaly", pk=pk)
