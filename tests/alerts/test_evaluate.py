"""Rules evaluated against stored samples: pending, firing, reminders, resolve, silences."""

import threading
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection, connections

from alerts.choices import AlertState, ChannelKind, EventKind, RuleKind
from alerts.delivery import attempt_delivery, claim_event
from alerts.evaluate import evaluate_rules
from alerts.models import Alert, AlertEvent, Channel, Rule, Silence
from collectors.models import Deployment, Gpu, GpuSample, Node
from tests.alerts.receivers import HttpReceiver

pytestmark = [pytest.mark.django_db, pytest.mark.slow]
T0 = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
SECRET = "a-signing-key-of-32-characters!!"


@pytest.fixture(autouse=True)
def loopback_allowed(settings) -> None:  # type: ignore[no-untyped-def]
    settings.ALERTS_ALLOW_PRIVATE_ADDRESSES = True


@pytest.fixture
def fleet() -> tuple[Gpu, Gpu]:
    node = Node.objects.create(name="node-a", labels={"rack": "r1"})
    other = Node.objects.create(name="node-b", labels={"rack": "r2"})
    hot = Gpu.objects.create(node=node, uuid="g0", index=0, model_name="H100")
    cool = Gpu.objects.create(node=other, uuid="g1", index=0, model_name="H100")
    dep = Deployment.objects.create(node=node, name="chat", labels={"team": "search"})
    dep.gpus.add(hot)
    return hot, cool


def samples(gpu: Gpu, end: datetime, util: float, seconds: int = 60, **fields: float) -> None:
    GpuSample.objects.bulk_create(
        [
            GpuSample(gpu=gpu, ts=end - timedelta(seconds=s), util_gpu=util, **fields)
            for s in range(0, seconds, 10)
        ],
        ignore_conflicts=True,
    )


def deliver_all() -> list[int]:
    sent = []
    for event in AlertEvent.objects.filter(processed_at__isnull=True).order_by("pk"):
        for delivery in claim_event(event.pk):
            assert attempt_delivery(delivery)
            sent.append(event.pk)
    return sent


def hot_rule(receiver: HttpReceiver, **fields: object) -> Rule:
    channel = Channel.objects.create(
        name="hook", kind=ChannelKind.WEBHOOK, url=receiver.url, secret=SECRET
    )
    options: dict[str, object] = {
        "name": "GPU pegged",
        "kind": RuleKind.THRESHOLD,
        "metric": "gpu.util",
        "comparison": ">",
        "value": 90,
        "for_seconds": 60,
        "repeat_minutes": 30,
        **fields,
    }
    rule = Rule.objects.create(**options)
    rule.channels.add(channel)
    return rule


def test_firing_then_a_reminder_then_resolved(fleet, http_receiver: HttpReceiver) -> None:  # type: ignore[no-untyped-def]
    hot, cool = fleet
    hot_rule(http_receiver)
    samples(cool, T0, 40)
    samples(hot, T0, 97)
    assert evaluate_rules(T0) == 0  # breaking, but not yet for 60 s
    alert = Alert.objects.get()
    assert alert.state == AlertState.PENDING and alert.entity == f"gpu:{hot.pk}"
    samples(hot, T0 + timedelta(seconds=60), 97)
    assert evaluate_rules(T0 + timedelta(seconds=60)) == 1
    deliver_all()
    [firing] = http_receiver.requests
    assert firing.json["event"] == "firing"
    assert firing.json["summary"] == "GPU utilization 97%, above the threshold 90%"
    assert firing.json["entity"]["label"] == "GPU node-a #0 H100"
    # The message links to the GPU's own dashboard page.
    assert firing.json["link"].endswith(f"/gpus/{hot.pk}/")
    # Still breaking: nothing new until the repeat interval has passed.
    samples(hot, T0 + timedelta(minutes=10), 98)
    assert evaluate_rules(T0 + timedelta(minutes=10)) == 0
    samples(hot, T0 + timedelta(minutes=31), 98)
    assert evaluate_rules(T0 + timedelta(minutes=31)) == 1
    samples(hot, T0 + timedelta(minutes=32), 50)
    assert evaluate_rules(T0 + timedelta(minutes=33)) == 1
    deliver_all()
    assert [r.json["event"] for r in http_receiver.requests] == ["firing", "reminder", "resolved"]
    alert.refresh_from_db()
    assert alert.state == AlertState.RESOLVED and alert.resolved_at == T0 + timedelta(minutes=33)
    # It breaks again: a new alert, not the old one reopened.
    samples(hot, T0 + timedelta(minutes=40), 99)
    evaluate_rules(T0 + timedelta(minutes=40))
    assert Alert.objects.filter(state=AlertState.PENDING).count() == 1


def test_a_pending_alert_that_clears_says_nothing(fleet, http_receiver: HttpReceiver) -> None:  # type: ignore[no-untyped-def]
    hot, _ = fleet
    hot_rule(http_receiver)
    samples(hot, T0, 97)
    evaluate_rules(T0)
    samples(hot, T0 + timedelta(seconds=30), 20, seconds=30)
    evaluate_rules(T0 + timedelta(seconds=90))
    assert Alert.objects.get().state == AlertState.RESOLVED
    assert not AlertEvent.objects.exists()


def test_the_scope_and_label_selector_pick_the_entities(fleet, http_receiver: HttpReceiver) -> None:  # type: ignore[no-untyped-def]
    hot, cool = fleet
    samples(hot, T0, 97)
    samples(cool, T0, 97)
    by_label = hot_rule(http_receiver, labels={"team": "search"}, for_seconds=0)
    evaluate_rules(T0)
    assert list(Alert.objects.filter(rule=by_label).values_list("entity", flat=True)) == [
        f"gpu:{hot.pk}"
    ]
    by_node = Rule.objects.create(
        name="rack r2",
        kind=RuleKind.THRESHOLD,
        metric="gpu.util",
        comparison=">=",
        value=90,
        node=cool.node,
    )
    evaluate_rules(T0)
    assert list(Alert.objects.filter(rule=by_node).values_list("entity", flat=True)) == [
        f"gpu:{cool.pk}"
    ]


def test_a_silence_holds_messages_and_they_go_out_when_it_ends(
    fleet, http_receiver: HttpReceiver
) -> None:  # type: ignore[no-untyped-def]
    hot, _ = fleet
    rule = hot_rule(http_receiver, for_seconds=0)
    Silence.objects.create(
        rule=rule,
        labels={"rack": "r1"},
        starts_at=T0 - timedelta(minutes=5),
        ends_at=T0 + timedelta(minutes=10),
        comment="driver upgrade",
    )
    for minute in (0, 5):
        samples(hot, T0 + timedelta(minutes=minute), 97)
        assert evaluate_rules(T0 + timedelta(minutes=minute)) == 0
    assert Alert.objects.get().state == AlertState.FIRING
    samples(hot, T0 + timedelta(minutes=10), 97)
    assert evaluate_rules(T0 + timedelta(minutes=10)) == 1  # the window ended
    deliver_all()
    assert [r.json["event"] for r in http_receiver.requests] == ["firing"]


def test_an_alert_that_fired_and_cleared_within_a_silence_sends_nothing(
    fleet, http_receiver: HttpReceiver
) -> None:  # type: ignore[no-untyped-def]
    hot, _ = fleet
    hot_rule(http_receiver, for_seconds=0)
    Silence.objects.create(starts_at=T0 - timedelta(minutes=1), ends_at=T0 + timedelta(hours=1))
    samples(hot, T0, 97)
    evaluate_rules(T0)
    evaluate_rules(T0 + timedelta(minutes=5))  # no samples in the window: cleared
    assert Alert.objects.get().state == AlertState.RESOLVED
    assert not AlertEvent.objects.exists()


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks need PostgreSQL")
def test_two_evaluations_at_once_open_one_alert_and_send_one_message(
    fleet, http_receiver: HttpReceiver
) -> None:  # type: ignore[no-untyped-def]
    hot, _ = fleet
    hot_rule(http_receiver, for_seconds=0)
    samples(hot, T0, 97)
    start = threading.Barrier(2)
    errors: list[BaseException] = []

    def evaluate() -> None:
        try:
            start.wait()
            evaluate_rules(T0)
        except BaseException as exc:  # surfaced below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=evaluate) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert Alert.objects.count() == 1
    assert list(AlertEvent.objects.values_list("kind", flat=True)) == [EventKind.FIRING]
    deliver_all()
    assert deliver_all() == []  # claimed once: a second run sends nothing
    assert len(http_receiver.requests) == 1


def test_a_rule_that_cannot_be_evaluated_does_not_stop_the_others(
    fleet, http_receiver: HttpReceiver
) -> None:  # type: ignore[no-untyped-def]
    hot, _ = fleet
    hot_rule(http_receiver, for_seconds=0)
    Rule.objects.create(
        name="broken", kind=RuleKind.THRESHOLD, metric="no.such", comparison=">", value=1
    )
    samples(hot, T0, 97)
    assert evaluate_rules(T0) == 1


def test_a_resolve_is_sent_inside_a_silence_to_those_who_heard_it_fire(
    fleet, http_receiver: HttpReceiver
) -> None:  # type: ignore[no-untyped-def]
    hot, _ = fleet
    hot_rule(http_receiver, for_seconds=0)
    samples(hot, T0, 97)
    evaluate_rules(T0)
    Silence.objects.create(starts_at=T0 + timedelta(minutes=1), ends_at=T0 + timedelta(hours=1))
    evaluate_rules(T0 + timedelta(minutes=5))  # cleared while silenced
    deliver_all()
    assert [r.json["event"] for r in http_receiver.requests] == ["firing", "resolved"]


def test_switching_a_rule_off_resolves_its_alerts(fleet, http_receiver: HttpReceiver) -> None:  # type: ignore[no-untyped-def]
    hot, _ = fleet
    rule = hot_rule(http_receiver, for_seconds=0)
    samples(hot, T0, 97)
    evaluate_rules(T0)
    Rule.objects.filter(pk=rule.pk).update(enabled=False)
    samples(hot, T0 + timedelta(seconds=30), 97)
    evaluate_rules(T0 + timedelta(seconds=30))
    assert Alert.objects.get().state == AlertState.RESOLVED
    deliver_all()
    assert [r.json["event"] for r in http_receiver.requests] == ["firing", "resolved"]
