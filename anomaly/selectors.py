"""What the anomaly pages read: filtered lists, and the series around one anomaly with
the band the detector expected, recomputed the way the job scored it."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Q, QuerySet
from django.utils import timezone

from anomaly import constants
from anomaly.baselines import empty_slots, load_slots
from anomaly.detectors import build
from anomaly.detectors.seasonal import SeasonalDetector
from anomaly.models import Anomaly, DetectorTuning
from anomaly.series import METRICS, cost_series, deployment_series, gpu_series
from telemetry.choices import Resolution

BEFORE_MINUTES, AFTER_MINUTES = timedelta(hours=3), timedelta(minutes=30)
BEFORE_HOURS, AFTER_HOURS = timedelta(days=3), timedelta(hours=6)
# A long anomaly is drawn up to its last point over at most this much.
MAX_SPAN_MINUTES, MAX_SPAN_HOURS = timedelta(hours=24), timedelta(days=14)
HOURLY_HISTORY = timedelta(days=35)


def anomalies_filtered(
    status: str = "",
    severity: str = "",
    metric: str = "",
    kind: str = "",
    start: datetime | None = None,
    end: datetime | None = None,
    deployment_ids: Sequence[int] | None = None,
    gpu_ids: Sequence[int] | None = None,
) -> QuerySet[Anomaly]:
    """Anomalies matching every filter given, newest first.

    start/end keep those that overlap the range; deployment_ids/gpu_ids (a label
    filter's scope) keep those of these deployments and GPUs.
    """
    rows = Anomaly.objects.select_related("gpu__node", "deployment__node", "node")
    if start is not None:
        rows = rows.filter(end__gte=start)
    if end is not None:
        rows = rows.filter(start__lt=end)
    if deployment_ids is not None:
        rows = rows.filter(Q(deployment__in=deployment_ids) | Q(gpu__in=gpu_ids or []))
    for field, value in (
        ("status", status),
        ("severity", severity),
        ("metric", metric),
        ("kind", kind),
    ):
        if value:
            rows = rows.filter(**{field: value})
    return rows.order_by("-start")


@dataclass(frozen=True)
class Context:
    observed: list[tuple[datetime, float | None]]
    band: list[tuple[datetime, float | None, float | None]]
    start: datetime
    end: datetime


def anomaly_context(anomaly: Anomaly) -> Context | None:
    """The anomaly's series and expected band around it (at most MAX_SPAN of it, ending
    at its last point); None for metrics with no single series (the multivariate score,
    a silent node) or an entity that has none."""
    metric = METRICS.get(anomaly.metric)
    if (
        metric is None
        or anomaly.metric.endswith(".multivariate")
        or anomaly.metric == "node.presence"
    ):
        return None
    key = (anomaly.metric, anomaly.entity_key)
    sensitivity = DetectorTuning.sensitivities([anomaly.metric]).get(key, 1.0)
    now = timezone.now()
    if metric.resolution == Resolution.HOUR:
        start = max(anomaly.start - BEFORE_HOURS, anomaly.end - MAX_SPAN_HOURS)
        end = min(anomaly.end + AFTER_HOURS, now)
        points = cost_series(start - HOURLY_HISTORY, end, anomaly.entity_key).get(key, [])
        detector = build(
            {"name": "seasonal", "sensitivity": sensitivity, **constants.HOURLY_SEASONAL}
        )
        results = [r for r in detector.detect_batch(points) if r.ts >= start]
    else:
        kind, _, pk = anomaly.entity_key.partition(":")
        if kind not in ("gpu", "deployment") or not pk.isdigit():
            return None
        start = max(anomaly.start - BEFORE_MINUTES, anomaly.end - MAX_SPAN_MINUTES)
        end = min(anomaly.end + AFTER_MINUTES, now)
        if kind == "gpu":
            series = gpu_series(start, end, gpu_id=int(pk))
        else:
            series = deployment_series(start, end, deployment_id=int(pk))
        points = series.get(key, [])
        slots, _ = load_slots(start, end, key)
        results = SeasonalDetector(sensitivity).detect_with(
            [], points, slots.get(key) or empty_slots(start, end)
        )
    return Context(
        observed=[(p.ts, p.value) for p in points if p.ts >= start],
        band=[(r.ts, r.expected_low, r.expected_high) for r in results],
        start=max(anomaly.start, start),
        end=anomaly.end,
    )


__all__ = ["Context", "anomalies_filtered", "anomaly_context"]
