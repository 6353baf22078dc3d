"""The alerts page and its "send test" button."""

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from alerts.models import Channel
from alerts.services import channel_send_test
from dashboard.selectors.alerts import alerts_page
from dashboard.selectors.scope import context_of


def alerts(request: HttpRequest) -> HttpResponse:
    context = {
        **context_of(alerts_page(timezone.now())),
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
