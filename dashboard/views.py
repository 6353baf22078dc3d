from datetime import timedelta
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from alerts import selectors as alert_selectors
from alerts.models import Channel
from alerts.services import channel_send_test
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
