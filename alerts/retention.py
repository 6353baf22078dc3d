"""Resolved alerts (with their events, deliveries and attempts) and test deliveries go
after ALERT_RETENTION_DAYS; open alerts stay however old they are."""

from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from alerts.choices import AlertState
from alerts.models import Alert, Delivery

_CHUNK = 1000  # alerts cascade to their events, deliveries and attempts


def expire_old_alerts(now: datetime | None = None) -> dict[str, int]:
    now = now or timezone.now()
    cutoff = now - timedelta(days=settings.ALERT_RETENTION_DAYS)
    alerts = tests = 0
    while ids := list(
        Alert.objects.filter(state=AlertState.RESOLVED, resolved_at__lt=cutoff).values_list(
            "pk", flat=True
        )[:_CHUNK]
    ):
        Alert.objects.filter(pk__in=ids).delete()
        alerts += len(ids)
    while ids := list(
        Delivery.objects.filter(Q(test=True) & Q(created_at__lt=cutoff)).values_list(
            "pk", flat=True
        )[:_CHUNK]
    ):
        Delivery.objects.filter(pk__in=ids).delete()
        tests += len(ids)
    return {"resolved alerts": alerts, "test deliveries": tests}
