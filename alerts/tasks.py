from celery import shared_task

from alerts.constants import (
    DELIVERY_TIME_LIMIT_SECONDS,
    MAX_DELIVERY_RETRIES,
    RETRY_BACKOFF_MAX_SECONDS,
    RETRY_BACKOFF_SECONDS,
    RETRY_JITTER,
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


# attempt_delivery raises RetryLater for a temporary failure with tries left (it counts
# them on the Delivery row); Celery retries it after 10 s, 20 s, 40 s ... up to the cap.
# A permanent failure returns instead: no retry, and the channel is disabled.
@shared_task(
    name="alerts.send_delivery",
    autoretry_for=(RetryLater,),
    retry_backoff=RETRY_BACKOFF_SECONDS,
    retry_backoff_max=RETRY_BACKOFF_MAX_SECONDS,
    retry_jitter=RETRY_JITTER,
    max_retries=MAX_DELIVERY_RETRIES,
    soft_time_limit=DELIVERY_TIME_LIMIT_SECONDS,
    time_limit=DELIVERY_TIME_LIMIT_SECONDS + 15,
)
def send_delivery_task(delivery_id: int) -> str:
    sent = attempt_delivery(delivery_id)
    return f"delivery {delivery_id}: {'sent' if sent else 'failed'}"
