"""What the alerts page and API read."""

from datetime import datetime, timedelta

from django.db.models import Q, QuerySet

from alerts.choices import AlertState, DeliveryStatus
from alerts.models import Alert, Channel, Delivery, Silence

RECENT = timedelta(days=7)


def alerts_open() -> QuerySet[Alert]:
    return Alert.objects.filter(state__in=[AlertState.FIRING, AlertState.PENDING]).select_related(
        "rule"
    )


def alerts_resolved_since(since: datetime) -> QuerySet[Alert]:
    return (
        Alert.objects.filter(state=AlertState.RESOLVED, resolved_at__gte=since)
        .select_related("rule")
        .order_by("-resolved_at")
    )


def deliveries_failed_since(since: datetime, now: datetime) -> QuerySet[Delivery]:
    """Failed deliveries, pending ones that have failed at least once (retrying), and
    pending ones never tried for five minutes (stuck: no worker picked them up)."""
    stuck_before = now - timedelta(minutes=5)
    return (
        Delivery.objects.filter(created_at__gte=since)
        .filter(
            Q(last_error__gt="") | Q(status=DeliveryStatus.PENDING, created_at__lt=stuck_before)
        )
        .exclude(status=DeliveryStatus.SENT)
        .select_related("channel", "event__alert")
        .order_by("-created_at")
    )


def channels_with_state() -> QuerySet[Channel]:
    return Channel.objects.order_by("name")


def silences_active(now: datetime) -> QuerySet[Silence]:
    return Silence.objects.filter(ends_at__gt=now).select_related("rule").order_by("ends_at")
