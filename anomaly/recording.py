"""Anomalous points into Anomaly rows: runs of points merge into one anomaly, and an
open anomaly grows while its metric stays anomalous. Every detector records here."""

from collections.abc import Sequence
from datetime import timedelta

from anomaly.choices import AnomalyKind, AnomalyStatus, Severity
from anomaly.detectors import Result
from anomaly.explain import sentence
from anomaly.models import Anomaly
from anomaly.series import METRICS
from anomaly.silence import NODE_METRIC

DETECTOR = "seasonal"
# Ratios with no denominator (no requests, no tokens) are None without any data
# being missing: only these metrics can report missing data.
PRESENCE_METRICS = {
    "gpu.util",
    "gpu.power",
    "gpu.temperature",
    "deployment.tokens_per_s",
    "fleet.cost_per_hour",
    NODE_METRIC,
}
# Anomalous points at most this many steps apart are one anomaly.
MERGE_STEPS = 5
# An open anomaly with no anomalous point for this many steps is resolved.
RESOLVE_STEPS = 30


def record(
    metric: str,
    entity: str,
    results: Sequence[Result],
    step: timedelta,
    detector: str = DETECTOR,
) -> int:
    """Merge anomalous results into Anomaly rows; returns how many points were recorded.

    Points are grouped into runs first, so a long anomaly costs a few queries,
    not a few per point.
    """
    runs: list[list[Result]] = []
    for result in results:
        if not result.is_anomaly:
            continue
        if result.kind == AnomalyKind.MISSING and metric not in PRESENCE_METRICS:
            continue
        if runs and result.ts - runs[-1][-1].ts <= step * MERGE_STEPS:
            runs[-1].append(result)
        else:
            runs.append([result])
    for run in runs:
        peak = max(run, key=lambda r: r.score)
        current = _open_anomaly(metric, entity, run, step)
        if current is None:
            current = _new(metric, entity, peak, detector)
            current.start = run[0].ts
        elif peak.score > current.score:
            _extend(current, metric, entity, peak)
        current.end = max(current.end, run[-1].ts)
        current.save()
    return sum(len(run) for run in runs)


def _open_anomaly(metric: str, entity: str, run: list[Result], step: timedelta) -> Anomaly | None:
    """The unresolved anomaly this run continues, if any.

    A run right after the last one (MERGE_STEPS) continues it; a run of the same
    kind continues it until it has resolved (RESOLVE_STEPS), so a problem that
    flickers is one anomaly, not an alert each time it comes back.
    """
    first = run[0].ts
    latest = (
        Anomaly.objects.filter(
            metric=metric,
            end__gte=first - step * RESOLVE_STEPS,
            status__in=[AnomalyStatus.OPEN, AnomalyStatus.ACKNOWLEDGED],
            **Anomaly.entity_fields(entity),
        )
        .order_by("-end")
        .first()
    )
    if latest is None:
        return None
    if latest.end >= first - step * MERGE_STEPS or latest.kind == (run[0].kind or latest.kind):
        return latest
    return None


def severity(score: float) -> str:
    if score >= 3:
        return Severity.CRITICAL
    if score >= 1.5:
        return Severity.WARNING
    return Severity.INFO


def _new(metric: str, entity: str, result: Result, detector: str) -> Anomaly:
    return Anomaly(
        metric=metric,
        detector=detector,
        kind=result.kind or AnomalyKind.SPIKE,
        start=result.ts,
        end=result.ts,
        score=result.score,
        severity=severity(result.score),
        observed=result.value,
        expected_low=result.expected_low,
        expected_high=result.expected_high,
        explanation=sentence(METRICS[metric], entity, result)[:500],
        **Anomaly.entity_fields(entity),
    )


def _extend(anomaly: Anomaly, metric: str, entity: str, result: Result) -> None:
    anomaly.end = max(anomaly.end, result.ts)
    if result.score > anomaly.score:
        anomaly.score = result.score
        anomaly.severity = severity(result.score)
        anomaly.kind = result.kind or anomaly.kind
        anomaly.observed = result.value
        anomaly.expected_low = result.expected_low
        anomaly.expected_high = result.expected_high
        anomaly.explanation = sentence(METRICS[metric], entity, result)[:500]
