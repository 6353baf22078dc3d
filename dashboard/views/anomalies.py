"""Anomalies: the filtered list, one anomaly with its chart, and its status buttons."""

import logging

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from anomaly import selectors as anomaly_selectors
from anomaly.choices import AnomalyStatus
from anomaly.models import Anomaly
from anomaly.series import METRICS
from anomaly.services import anomaly_set_status
from dashboard.charts.anomaly import observed_vs_expected
from dashboard.forms import AnomalyFilterForm

logger = logging.getLogger(__name__)


def anomalies(request: HttpRequest) -> HttpResponse:
    form = AnomalyFilterForm(request.GET or {"status": AnomalyStatus.OPEN})
    rows = (
        anomaly_selectors.anomalies_filtered(**form.cleaned_data)
        if form.is_valid()
        else Anomaly.objects.none()
    )
    return render(request, "dashboard/anomalies.html", {"form": form, "anomalies": rows[:200]})


def anomaly_detail(request: HttpRequest, pk: int) -> HttpResponse:
    anomaly = get_object_or_404(
        Anomaly.objects.select_related("gpu__node", "deployment__node", "node"), pk=pk
    )
    try:
        context = anomaly_selectors.anomaly_context(anomaly)
    except Exception:
        # The page still shows the anomaly; only its chart is missing.
        logger.exception("drawing anomaly %s failed", anomaly.pk)
        context = None
    chart = None
    if context is not None and context.observed:
        metric = METRICS[anomaly.metric]
        chart = observed_vs_expected(
            context.observed, context.band, context.start, context.end, metric.label, metric.unit
        )
    return render(
        request,
        "dashboard/anomaly.html",
        {
            "anomaly": anomaly,
            "chart": chart,
            "statuses": AnomalyStatus,
            "can_change": request.user.has_perm("anomaly.change_anomaly"),
        },
    )


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
