"""Threshold, anomaly and silence rules: what the metrics, the detectors and the
agents' heartbeats say right now."""

import operator
from datetime import datetime, timedelta
from typing import Any

from django.db.models import Q

from alerts.choices import Comparison
from alerts.conditions.base import Breach, fmt
from alerts.metrics import METRICS
from alerts.models import Rule
from anomaly.choices import AnomalyStatus, Severity
from anomaly.models import Anomaly
from collectors.models import Agent, InferenceSample
from telemetry.choices import Resolution
from telemetry.models import InferenceRollup

COMPARE = {
    Comparison.ABOVE: operator.gt,
    Comparison.AT_LEAST: operator.ge,
    Comparison.BELOW: operator.lt,
    Comparison.AT_MOST: operator.le,
}
SEVERITY_RANK = {Severity.INFO: 0, Severity.WARNING: 1, Severity.CRITICAL: 2}
# An anomaly counts while its last anomalous point is this recent.
ANOMALY_FRESH = timedelta(minutes=15)
# A deployment that reported within this long can go silent; older ones are gone.
KNOWN_FOR = timedelta(days=1)


def threshold_breaches(rule: Rule, now: datetime, reads: dict[Any, Any]) -> dict[str, Breach]:
    metric = METRICS[rule.metric]
    if ("metric", metric.name) not in reads:
        reads[("metric", metric.name)] = metric.read(now)
    compare = COMPARE[Comparison(rule.comparison)]
    threshold = float(rule.value or 0.0)
    words = Comparison(rule.comparison).label
    unit = f" {metric.unit}" if metric.unit and metric.unit != "%" else metric.unit
    return {
        entity: Breach(
            value,
            f"{metric.label} {fmt(value)}{unit}, {words} the threshold {fmt(threshold)}{unit}",
        )
        for entity, value in reads[("metric", metric.name)].items()
        if compare(value, threshold)
    }


def anomaly_breaches(rule: Rule, now: datetime, reads: dict[Any, Any]) -> dict[str, Breach]:
    floor = SEVERITY_RANK[Severity(rule.min_severity)]
    severities = [s for s, rank in SEVERITY_RANK.items() if rank >= floor]
    rows = Anomaly.objects.filter(
        status=AnomalyStatus.OPEN, severity__in=severities, end__gte=now - ANOMALY_FRESH
    )
    metrics = [m.strip() for m in rule.metric.split(",") if m.strip()]
    if metrics:
        rows = rows.filter(metric__in=metrics)
    out: dict[str, Breach] = {}
    # Worst first: an entity with several anomalies alerts once, on the worst.
    for anomaly in rows.order_by("-score"):
        key = anomaly.entity_key
        if key not in out:
            out[key] = Breach(anomaly.score, anomaly.explanation, anomaly.severity)
    return out


def silence_breaches(rule: Rule, now: datetime, reads: dict[Any, Any]) -> dict[str, Breach]:
    """Agents and deployments with no data for `value` minutes (revoked agents excluded)."""
    quiet = timedelta(minutes=float(rule.value or 0))
    since = now - quiet
    out: dict[str, Breach] = {}
    agents = Agent.objects.filter(revoked_at__isnull=True, last_seen_at__isnull=False).filter(
        last_seen_at__lt=since
    )
    for agent in agents:
        assert agent.last_seen_at is not None
        minutes = (now - agent.last_seen_at).total_seconds() / 60
        out[f"agent:{agent.pk}"] = Breach(
            minutes, f"no data from agent {agent.name} for {minutes:.0f} minutes", "critical"
        )
    recent = set(
        InferenceRollup.objects.filter(
            resolution=Resolution.HOUR, bucket__gte=now - KNOWN_FOR
        ).values_list("deployment_id", flat=True)
    )
    recent |= set(
        InferenceSample.objects.filter(Q(ts__gte=now - quiet * 2)).values_list(
            "deployment_id", flat=True
        )
    )
    reporting = set(
        InferenceSample.objects.filter(ts__gte=since, ts__lte=now).values_list(
            "deployment_id", flat=True
        )
    )
    for deployment_id in recent - reporting:
        out[f"deployment:{deployment_id}"] = Breach(
            None,
            f"no serving metrics for over {quiet.total_seconds() / 60:.0f} minutes",
            "critical",
        )
    return out
