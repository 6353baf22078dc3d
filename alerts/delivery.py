"""From an alert event to messages: claim the event once, one Delivery per channel,
and one logged attempt per try. A broken channel fails its own deliveries only."""

import logging
import time

from django.db import transaction
from django.utils import timezone

from alerts.channels import TRANSPORTS, DeliveryError
from alerts.choices import DeliveryStatus
from alerts.constants import MAX_DELIVERY_RETRIES
from alerts.errors import UnsendableMessage
from alerts.messages import event_message, test_message
from alerts.models import AlertEvent, Channel, Delivery, DeliveryAttempt

logger = logging.getLogger(__name__)


class RetryLater(Exception):
    """A temporary failure with retries left: send_delivery_task retries on it
    (autoretry_for), after Celery's backoff."""


def claim_event(event_id: int) -> list[int]:
    """Deliveries to make for an event, or [] if another worker claimed it first."""
    with transaction.atomic():
        claimed = AlertEvent.objects.filter(pk=event_id, processed_at__isnull=True).update(
            processed_at=timezone.now()
        )
        if not claimed:
            return []
        event = AlertEvent.objects.select_related("alert__rule").get(pk=event_id)
        channels = event.alert.rule.channels.filter(enabled=True)
        return [Delivery.objects.create(event=event, channel=c).pk for c in channels]


def create_test_delivery(channel: Channel) -> Delivery:
    return Delivery.objects.create(channel=channel, test=True)


def attempt_delivery(delivery_id: int) -> bool:
    """One try; True once sent (now or before). Raises RetryLater on a temporary
    failure with tries left; a permanent one disables the channel."""
    delivery = Delivery.objects.select_related("channel", "event__alert__rule").get(pk=delivery_id)
    if delivery.status != DeliveryStatus.PENDING:
        return delivery.status == DeliveryStatus.SENT
    channel = delivery.channel
    message = test_message(channel) if delivery.event is None else event_message(delivery.event)
    started = time.monotonic()
    error: DeliveryError | None = None
    try:
        TRANSPORTS[channel.kind](channel).send(message)
    except DeliveryError as exc:
        error = exc
    except Exception as exc:  # a transport bug must be logged like any failure
        logger.exception("channel %s raised", channel.pk)
        error = DeliveryError(f"{type(exc).__name__}: {exc}")
    duration = int((time.monotonic() - started) * 1000)
    DeliveryAttempt.objects.create(
        delivery=delivery, ok=error is None, duration_ms=duration, error=str(error or "")[:500]
    )
    delivery.attempts += 1
    if error is None:
        delivery.status, delivery.sent_at, delivery.last_error = (
            DeliveryStatus.SENT,
            timezone.now(),
            "",
        )
        delivery.save(update_fields=["status", "sent_at", "last_error", "attempts"])
        return True
    delivery.last_error = str(error)[:500]
    retry = (
        not error.permanent
        and not isinstance(error, UnsendableMessage)
        and delivery.attempts <= MAX_DELIVERY_RETRIES
        and not delivery.test
    )
    if not retry:
        delivery.status = DeliveryStatus.FAILED
    delivery.save(update_fields=["status", "last_error", "attempts"])
    # The channel's URL never goes to the log: only its name and the error.
    logger.warning("delivery %s to channel %r failed: %s", delivery.pk, channel.name, error)
    if error.permanent and not delivery.test:
        Channel.objects.filter(pk=channel.pk).update(
            enabled=False, disabled_reason=f"{timezone.now():%Y-%m-%d %H:%M} {error}"[:500]
        )
    if retry:
        raise RetryLater(str(error))
    return False
