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
from dashboard.charts.timeline import anomaly_timeline
from dashboard.forms import AnomalyFilterForm
from dashboard.views.common import page_range, render_ranged
from inferscope.lib.timerange import RANGE_PARAMS

logger = logging.getLogger(__name__)
MAX_SHOWN = 200


def anomalies(request: HttpRequest) -> HttpResponse:
    pr = page_range(request, default="30d")
    asked = {k: v for k, v in request.GET.items() if k not in RANGE_PARAMS}
    form = AnomalyFilterForm(asked or {"status": AnomalyStatus.OPEN})
    rows: list[Anomaly] = []
    if form.is_valid():
        query = anomaly_selectors.anomalies_filtered(
            **form.cleaned_data,
            start=pr.tr.start,
            end=pr.tr.end,
            deployment_ids=pr.deployment_ids,
            gpu_ids=pr.gpu_ids,
        )
        rows = list(query[:MAX_SHOWN])
    context = {
        "form": form,
        "anomalies": rows,
        "max_shown": MAX_SHOWN,
        "timeline": anomaly_timeline(rows, pr.tr.start, pr.tr.end),
    }
    response = render_ranged(request, "dashboard/anomalies.html", pr, context)
    if not form.is_valid():
        response.status_code = 400
    return response


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
