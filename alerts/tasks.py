from celery import shared_task

from alerts.constants import (
    DELIVERY_TIME_LIMIT_SECONDS,
    MAX_DELIVERY_RETRIES,
    RETRY_BACKOFF_MAX_SECONDS,
    RETRY_BACKOFF_SECONDS,
)
from alerts.delivery import RetryLater, attempt_delivery, claim_event
from alerts.evaluate import evaluate_rules
from alerts.retention import expire_old_alerts


@shared_task(name="alerts.evaluate")
def evaluate_task() -> str:
    return f"wrote {evaluate_rules()} alert events"


@shared_task(name="alerts.expire_old_alerts")
def expire_old_alerts_task() -> str:
    deleted = expire_old_alerts()
    return "deleted " + ", ".join(f"{n} {what}" for what, n in deleted.items())


@shared_task(name="alerts.deliver_event")
def deliver_event_task(event_id: int) -> str:
    deliveries = claim_event(event_id)
    for delivery_id in deliveries:
        # One task per channel: a slow or broken channel never holds up another.
        send_delivery_task.delay(delivery_id)
    return f"event {event_id}: {len(deliveries)} deliveries"


@shared_task(
    name="alerts.send_delivery",
    bind=True,
    max_retries=MAX_DELIVERY_RETRIES,
    soft_time_limit=DELIVERY_TIME_LIMIT_SECONDS,
    time_limit=DELIVERY_TIME_LIMIT_SECONDS + 15,
)
def send_delivery_task(self, delivery_id: int) -> str:  # type: ignore[no-untyped-def]
    try:
        sent = attempt_delivery(delivery_id)
    except RetryLater as exc:
        countdown = min(RETRY_BACKOFF_SECONDS * 2**self.request.retries, RETRY_BACKOFF_MAX_SECONDS)
        raise self.retry(exc=exc, countdown=countdown) from None
    return f"delivery {delivery_id}: {'sent' if sent else 'failed'}"
