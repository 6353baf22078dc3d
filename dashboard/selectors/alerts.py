"""The alerts page's rows."""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import QuerySet

from alerts import selectors as alert_selectors
from alerts.models import Alert, Channel, Delivery, Silence

SHOWN = 50


@dataclass(frozen=True)
class AlertsPage:
    open_alerts: QuerySet[Alert]
    resolved: QuerySet[Alert]  # in the last day
    failed: QuerySet[Delivery]  # in the last RECENT
    channels: QuerySet[Channel]
    silences: QuerySet[Silence]


def alerts_page(now: datetime) -> AlertsPage:
    return AlertsPage(
        open_alerts=alert_selectors.alerts_open(),
        resolved=alert_selectors.alerts_resolved_since(now - timedelta(days=1))[:SHOWN],
        failed=alert_selectors.deliveries_failed_since(now - alert_selectors.RECENT, now)[:SHOWN],
        channels=alert_selectors.channels_with_state(),
        silences=alert_selectors.silences_active(now),
    )
