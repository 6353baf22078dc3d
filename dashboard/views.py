import logging
from datetime import timedelta
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from alerts import selectors as alert_selectors
from alerts.models import Channel
from alerts.services import channel_send_test
from anomaly import selectors as anomaly_selectors
from anomaly.choices import AnomalyStatus
from anomaly.models import Anomaly
from anomaly.series import METRICS
from anomaly.services import anomaly_set_status
from collectors.selectors import deployment_label_keys, fleet_nodes
from costs.breakeven import break_evens
from costs.budgets import budget_statuses
from costs.report import report_rows
from costs.selectors import IDLE_KEY, unpriced_gpus
from dashboard.charts.anomaly import observed_vs_expected
from dashboard.forms import AnomalyFilterForm, CostReportForm

logger = logging.getLogger(__name__)


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


def alerts(request: HttpRequest) -> HttpResponse:
    now = timezone.now()
    since = now - alert_selectors.RECENT
    context = {
        "open_alerts": alert_selectors.alerts_open(),
        "resolved": alert_selectors.alerts_resolved_since(now - timedelta(days=1))[:50],
        "failed": alert_selectors.deliveries_failed_since(since, now)[:50],
        "channels": alert_selectors.channels_with_state(),
        "silences": alert_selectors.silences_active(now),
        "can_test": request.user.has_perm("alerts.change_channel"),
    }
    return render(request, "dashboard/alerts.html", context)


@require_POST
def alerts_channel_test(request: HttpRequest, pk: int) -> HttpResponse:
    if not request.user.has_perm("alerts.change_channel"):
        raise PermissionDenied
    channel = get_object_or_404(Channel, pk=pk)
    delivery = channel_send_test(channel)
    if delivery.status == "sent":
        messages.success(request, f"Test message sent to {channel.name}.")
    else:
        messages.error(request, f"Test to {channel.name} failed: {delivery.last_error}")
    return redirect("dashboard:alerts")


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
