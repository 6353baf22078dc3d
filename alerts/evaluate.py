"""Evaluate every enabled rule and move its alerts along: pending, firing, resolved.

For each rule, the entities that break it now (in its scope) open or update an
Alert; one that has broken it for `for_seconds` fires. Firing, each reminder
and resolving write an AlertEvent in the same transaction as the state change,
and the event is handed to the delivery task once that transaction commits.
An open alert is unique per rule and entity (a partial unique constraint), and
its row is locked while it changes, so two evaluations at once send one message.
"""

import logging
from datetime import datetime, timedelta

from celery import current_app
from django.db import IntegrityError, transaction
from django.utils import timezone

from alerts.choices import AlertState, DeliveryStatus, EventKind
from alerts.conditions import CONDITIONS, Breach, Reads
from alerts.constants import STALE_DELIVERY_SECONDS, STALE_EVENT_SECONDS
from alerts.locks import evaluation_lock
from alerts.messages import entity_path
from alerts.models import Alert, AlertEvent, Delivery, Rule, Silence
from alerts.scope import Inventory

logger = logging.getLogger(__name__)
# The delivery tasks' registered names (alerts/tasks.py).
DELIVER_EVENT = "alerts.deliver_event"
SEND_DELIVERY = "alerts.send_delivery"

OPEN = [AlertState.PENDING, AlertState.FIRING]


def evaluate_rules(now: datetime | None = None) -> int:
    """Evaluate every enabled rule; returns the number of events written (0 when
    another evaluation is running: it will see the same data)."""
    now = now or timezone.now()
    with evaluation_lock() as held:
        if not held:
            logger.info("another evaluation is running; this one is skipped")
            return 0
        return _evaluate(now)


def _evaluate(now: datetime) -> int:
    rules = list(Rule.objects.all())
    if not rules:
        requeue_stale_events(now)
        return 0  # no rules: no fleet read every 15 s for nothing
    inventory = Inventory.load()
    silences = list(Silence.objects.filter(starts_at__lte=now, ends_at__gt=now))
    reads: Reads = {}
    events = 0
    for rule in rules:
        try:
            if not rule.enabled:
                # A rule switched off closes what it opened (and says so where it spoke).
                events += _apply(rule, {}, now, inventory, silences)
                continue
            breaches = CONDITIONS[rule.kind](rule, now, reads)
            in_scope = {k: b for k, b in breaches.items() if inventory.covers(rule, k)}
            events += _apply(rule, in_scope, now, inventory, silences)
        except Exception:
            # One rule that cannot be evaluated must not silence the others.
            logger.exception("evaluating rule %s failed", rule.pk)
    requeue_stale_events(now)
    return events


def silenced(alert: Alert, silences: list[Silence]) -> bool:
    for silence in silences:
        if silence.rule_id is not None and silence.rule_id != alert.rule_id:
            continue
        if silence.entity and silence.entity != alert.entity:
            continue
        if silence.labels and any(
            str(alert.labels.get(k)) != str(v) for k, v in silence.labels.items()
        ):
            continue
        return True
    return False


def _apply(
    rule: Rule,
    breaches: dict[str, Breach],
    now: datetime,
    inventory: Inventory,
    silences: list[Silence],
) -> int:
    events = 0
    open_alerts = {a.entity: a for a in Alert.objects.filter(rule=rule, state__in=OPEN)}
    for entity, breach in breaches.items():
        alert = open_alerts.get(entity)
        if alert is None:
            alert = _open(rule, entity, breach, now, inventory)
            if alert is None:
                continue
        if _due(alert, rule, now, silences):
            events += _step(alert.pk, breach, now, rule, silences)
        elif (alert.value, alert.summary, alert.severity) != (
            breach.value,
            breach.summary[:500],
            breach.severity,
        ):
            # Nothing to tell anyone: keep the figures fresh without locking the row.
            Alert.objects.filter(pk=alert.pk).update(
                value=breach.value, summary=breach.summary[:500], severity=breach.severity
            )
    for entity, alert in open_alerts.items():
        if entity not in breaches:
            events += _resolve(alert.pk, now, silences)
    return events


def _due(alert: Alert, rule: Rule, now: datetime, silences: list[Silence]) -> bool:
    """Whether this breach may change the alert's state or owe a message (read unlocked;
    _step decides again under the row lock)."""
    if alert.state == AlertState.PENDING:
        return now - alert.started_at >= timedelta(seconds=rule.for_seconds)
    if silenced(alert, silences):
        return False
    if alert.last_notified_at is None:
        return True
    return bool(rule.repeat_minutes) and now - alert.last_notified_at >= timedelta(
        minutes=rule.repeat_minutes
    )


def _open(
    rule: Rule, entity: str, breach: Breach, now: datetime, inventory: Inventory
) -> Alert | None:
    try:
        with transaction.atomic():
            return Alert.objects.create(
                rule=rule,
                entity=entity,
                entity_label=inventory.label(entity)[:300],
                link=entity_path(entity),
                labels=inventory.labels(entity),
                state=AlertState.PENDING,
                value=breach.value,
                summary=breach.summary[:500],
                severity=breach.severity,
                started_at=now,
            )
    except IntegrityError:
        # Another evaluation opened it a moment ago: it carries on from there.
        return Alert.objects.filter(rule=rule, entity=entity, state__in=OPEN).first()


def _step(alert_id: int, breach: Breach, now: datetime, rule: Rule, silences: list[Silence]) -> int:
    with transaction.atomic():
        alert = Alert.objects.select_for_update().filter(pk=alert_id, state__in=OPEN).first()
        if alert is None:
            return 0  # resolved meanwhile by another evaluation
        alert.value, alert.summary, alert.severity = (
            breach.value,
            breach.summary[:500],
            breach.severity,
        )
        if alert.state == AlertState.PENDING and now - alert.started_at >= timedelta(
            seconds=rule.for_seconds
        ):
            alert.state, alert.fired_at = AlertState.FIRING, now
        kind = None
        if alert.state == AlertState.FIRING and not silenced(alert, silences):
            if alert.last_notified_at is None:
                kind = EventKind.FIRING
            elif rule.repeat_minutes and now - alert.last_notified_at >= timedelta(
                minutes=rule.repeat_minutes
            ):
                kind = EventKind.REMINDER
        if kind is not None:
            alert.last_notified_at = now
        alert.save()
        return _event(alert, kind)


def _resolve(alert_id: int, now: datetime, silences: list[Silence]) -> int:
    with transaction.atomic():
        alert = Alert.objects.select_for_update().filter(pk=alert_id, state__in=OPEN).first()
        if alert is None:
            return 0
        # Only people who heard it fire hear it clear; they hear it even inside a
        # silence, or their incident (a webhook's, Slack's) would stay open for good.
        told = alert.state == AlertState.FIRING and alert.last_notified_at is not None
        alert.state, alert.resolved_at = AlertState.RESOLVED, now
        alert.save()
        return _event(alert, EventKind.RESOLVED if told else None)


def _event(alert: Alert, kind: str | None) -> int:
    if kind is None:
        return 0
    event = AlertEvent.objects.create(
        alert=alert, kind=kind, summary=alert.summary, value=alert.value
    )
    transaction.on_commit(lambda: _queue(DELIVER_EVENT, event.pk))
    return 1


def _queue(task: str, pk: int) -> None:
    """Queue a delivery task by its registered name (alerts.tasks imports this module);
    a broker outage is logged, and the next evaluation re-queues what it left
    (requeue_stale_events)."""
    try:
        current_app.send_task(task, args=[pk])
    except Exception:
        logger.exception("queueing %s(%s) failed", task, pk)


def requeue_stale_events(now: datetime) -> int:
    """Hand on events and deliveries whose queueing was lost (a broker outage at
    commit time, a worker that died): claims and statuses keep it at once."""
    stale = AlertEvent.objects.filter(
        processed_at__isnull=True, created_at__lt=now - timedelta(seconds=STALE_EVENT_SECONDS)
    ).values_list("pk", flat=True)[:500]
    ids = list(stale)
    for event_id in ids:
        _queue(DELIVER_EVENT, event_id)
    stuck = Delivery.objects.filter(
        status=DeliveryStatus.PENDING,
        attempts=0,
        test=False,
        created_at__lt=now - timedelta(seconds=STALE_DELIVERY_SECONDS),
    ).values_list("pk", flat=True)[:500]
    for delivery_id in list(stuck):
        _queue(SEND_DELIVERY, delivery_id)
    return len(ids)
