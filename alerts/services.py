"""Writes that span models: a channel's test message, sent now and logged like any delivery."""

from alerts.delivery import attempt_delivery, create_test_delivery
from alerts.models import Channel, Delivery


def channel_send_test(channel: Channel) -> Delivery:
    """Send a test message at once (a person is waiting): one attempt, logged, never retried."""
    delivery = create_test_delivery(channel)
    attempt_delivery(delivery.pk)
    delivery.refresh_from_db()
    return delivery
