"""An alert event (or a test) as a channel-neutral Message."""

import re
from datetime import UTC, datetime

from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from alerts.channels.base import Message
from alerts.choices import EventKind
from alerts.models import AlertEvent, Channel

_VERB = {
    EventKind.FIRING: "Firing",
    EventKind.REMINDER: "Still firing",
    EventKind.RESOLVED: "Resolved",
}


_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def one_line(text: str) -> str:
    """Names as one line: a subject, a header or a Slack title must not be split by a
    newline an agent put in a deployment's name (names stored before ingest refused them)."""
    return " ".join(_CONTROL.sub(" ", text).split())


def absolute(path: str) -> str:
    return settings.SITE_URL.rstrip("/") + path


# Entity kinds with a dashboard page of their own (by URL name: alerts imports no views).
_PAGES = {"gpu": "dashboard:gpu", "deployment": "dashboard:deployment"}


def entity_path(entity: str) -> str:
    """The dashboard page of an alert's entity ('gpu:12' -> /gpus/12/), or '' if it has none."""
    kind, _, pk = entity.partition(":")
    if kind == "node":
        return reverse("dashboard:nodes")
    if kind in _PAGES and pk.isdigit():
        return reverse(_PAGES[kind], args=[int(pk)])
    return ""


def event_message(event: AlertEvent) -> Message:
    alert, rule = event.alert, event.alert.rule
    severity = "resolved" if event.kind == EventKind.RESOLVED else alert.severity
    entity, rule_name = one_line(alert.entity_label), one_line(rule.name)
    title = f"[{_VERB[EventKind(event.kind)]}] {rule_name}: {entity}"
    since = alert.fired_at or alert.started_at
    fields = [
        ("Entity", entity),
        ("Rule", rule_name),
        ("Since", _when(since)),
    ]
    if event.value is not None:
        fields.append(("Value", f"{event.value:.4g}"))
    if event.kind == EventKind.RESOLVED and alert.resolved_at is not None:
        fields.append(("Resolved", _when(alert.resolved_at)))
    # The alerts page, which everyone who can log in can open (the admin is staff only).
    link = absolute(alert.link or f"{reverse('dashboard:alerts')}#alert-{alert.pk}")
    text = event.summary if event.kind != EventKind.RESOLVED else f"Cleared: {event.summary}"
    return Message(
        kind=event.kind,
        title=title,
        text=text,
        severity=severity,
        link=link,
        fields=fields,
        data={
            "event": event.kind,
            "event_id": event.pk,
            "alert_id": alert.pk,
            "rule": {"id": rule.pk, "name": rule.name, "kind": rule.kind},
            "entity": {"key": alert.entity, "label": alert.entity_label, "labels": alert.labels},
            "severity": severity,
            "summary": event.summary,
            "value": event.value,
            "started_at": alert.started_at.isoformat(),
            "fired_at": alert.fired_at.isoformat() if alert.fired_at else None,
            "resolved_at": alert.resolved_at.isoformat() if alert.resolved_at else None,
            "link": link,
            "sent_at": timezone.now().isoformat(),
        },
    )


def test_message(channel: Channel) -> Message:
    link = absolute(reverse("admin:alerts_channel_change", args=[channel.pk]))
    return Message(
        kind="test",
        title=f"[Test] Inferscope alerts reach {one_line(channel.name)}",
        text="This is a test message: alerts of the rules that use this channel will arrive here.",
        severity="info",
        link=link,
        fields=[("Channel", channel.name)],
        data={
            "event": "test",
            "channel": channel.name,
            "link": link,
            "sent_at": timezone.now().isoformat(),
        },
    )


def _when(ts: datetime) -> str:
    return f"{ts.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC"
