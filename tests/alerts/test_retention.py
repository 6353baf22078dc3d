from datetime import UTC, datetime, timedelta

import pytest

from alerts.choices import AlertState, EventKind
from alerts.models import Alert, AlertEvent, Channel, Delivery, DeliveryAttempt, Rule
from alerts.retention import expire_old_alerts

pytestmark = pytest.mark.django_db
NOW = datetime(2026, 11, 20, tzinfo=UTC)


def test_old_resolved_alerts_go_with_their_log_and_open_ones_stay(settings) -> None:  # type: ignore[no-untyped-def]
    settings.ALERT_RETENTION_DAYS = 30
    rule = Rule.objects.create(name="r", kind="silence", value=5)
    channel = Channel.objects.create(name="mail", kind="email", email_to="a@example.org")
    old = NOW - timedelta(days=31)

    def alert(entity: str, state: str, resolved: datetime | None) -> Alert:
        made = Alert.objects.create(
            rule=rule,
            entity=entity,
            entity_label=entity,
            state=state,
            summary="s",
            started_at=old,
            resolved_at=resolved,
        )
        event = AlertEvent.objects.create(alert=made, kind=EventKind.FIRING, summary="s")
        delivery = Delivery.objects.create(event=event, channel=channel)
        DeliveryAttempt.objects.create(delivery=delivery, ok=True, duration_ms=5)
        return made

    alert("gpu:1", AlertState.RESOLVED, old)
    recent = alert("gpu:2", AlertState.RESOLVED, NOW - timedelta(days=2))
    still_open = alert("gpu:3", AlertState.FIRING, None)
    test = Delivery.objects.create(channel=channel, test=True)
    Delivery.objects.filter(pk=test.pk).update(created_at=old)
    assert expire_old_alerts(NOW) == {"resolved alerts": 1, "test deliveries": 1}
    assert set(Alert.objects.values_list("pk", flat=True)) == {recent.pk, still_open.pk}
    assert AlertEvent.objects.count() == 2 and DeliveryAttempt.objects.count() == 2
