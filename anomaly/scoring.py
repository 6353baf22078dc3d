"""Score the newest rollups and turn anomalous points into Anomaly rows.

Each family of series (per-minute GPU and deployment metrics, hourly cost) has
a watermark: a run scores the points after it, with older points as the
detector's context, and moves it on in the same transaction as the rows it
writes. A rerun scores nothing twice; a crashed run leaves it where it was.

The per-minute family reads the seasonal baseline's hourly terms from
`SeriesHour` (kept current by `anomaly.baselines` at the start of each run) and
only a few hours of minutes for the rolling rules, so a tick's cost does not
grow with the weeks of history the baseline stands for.
"""

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.db import transaction
from django.db.models import Min
from django.utils import timezone

from anomaly import constants
from anomaly.baselines import empty_slots, load_slots, refresh_baselines
from anomaly.choices import AnomalyStatus
from anomaly.detectors import Found, Point, build
from anomaly.detectors.seasonal import SeasonalDetector
from anomaly.models import Anomaly, DetectorTuning, ScoringWatermark
from anomaly.multivariate import multivariate_results
from anomaly.recording import DETECTOR, PRESENCE_METRICS, RESOLVE_STEPS, record
from anomaly.series import (
    METRICS,
    Series,
    cost_series,
    deployment_series,
    gpu_series,
    grid,
)
from anomaly.silence import collapse_silence
from collectors.models import SampleSpan

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Family:
    name: str
    step: timedelta
    builders: tuple[Callable[[datetime, datetime], Series], ...]
    history: timedelta  # context before the new points
    settle: timedelta  # how long after a bucket ends its rollup is trusted
    detector: str = DETECTOR
    config: tuple[tuple[str, float], ...] = ()
    # Read the seasonal baseline's stored hourly terms instead of deriving them
    # from `history` (which then only needs to cover the rolling rules' windows).
    stored_baseline: bool = False

    def end(self, now: datetime) -> datetime:
        ready = now - self.settle
        if self.step >= timedelta(hours=1):
            return ready.replace(minute=0, second=0, microsecond=0)
        return ready.replace(second=0, microsecond=0)


FAMILIES = (
    Family(
        "minute",
        timedelta(minutes=1),
        (gpu_series, deployment_series),
        # Longer than the seasonal rules' longest window (60 points) with room to spare.
        timedelta(hours=6),
        timedelta(minutes=3),
        stored_baseline=True,
    ),
    Family(
        "hour",
        timedelta(hours=1),
        (cost_series,),
        timedelta(days=35),
        timedelta(minutes=10),
        config=tuple(constants.HOURLY_SEASONAL.items()),
    ),
)
# The first run looks back this far, not over all history.
FIRST_WINDOW_STEPS = 60


def score_recent(now: datetime | None = None) -> int:
    """Score every family up to now; returns the number of anomalous points recorded."""
    now = (now or timezone.now()).astimezone(UTC)
    touched = 0
    for family in FAMILIES:
        try:
            touched += score_family(family, now)
        except Exception:
            # One family's failure must not stop the other's scoring.
            logger.exception("scoring the %s family failed", family.name)
    return touched


def _ready_until(family: Family, now: datetime) -> datetime:
    """Up to where rollups are complete: never past samples still waiting to be rolled up."""
    end = family.end(now)
    pending = SampleSpan.objects.aggregate(first=Min("start"))["first"]
    if pending is not None:
        end = min(end, family.end(pending + family.settle))
    return end


def score_family(family: Family, now: datetime) -> int:
    """Score one family past its watermark; returns the anomalous points recorded.

    The detectors run outside any transaction, so on SQLite ingest is not kept
    waiting; the writes then happen at once, and only if no other run moved the
    watermark meanwhile.
    """
    end = _ready_until(family, now)
    mark = ScoringWatermark.objects.filter(name=family.name).first()
    if family.stored_baseline:
        observed = refresh_baselines(end)
        if mark is None and observed < end - timedelta(hours=1):
            return 0  # a first run waits until the history is observed, then starts at now
        # A point is scored only once the hours before its own have been observed.
        end = min(end, observed + timedelta(hours=1))
    start = mark.scored_until if mark else end - family.step * FIRST_WINDOW_STEPS
    if start >= end:
        return 0
    found = _detect_family(family, start, end)
    with transaction.atomic():
        mark, _ = ScoringWatermark.objects.select_for_update().get_or_create(
            name=family.name, defaults={"scored_until": start}
        )
        if mark.scored_until != start:
            logger.info("another run scored the %s family meanwhile", family.name)
            return 0
        touched = sum(record(*item) for item in found)
        _resolve_quiet(family, end)
        mark.scored_until = end
        mark.save(update_fields=["scored_until"])
    return touched


def _detect_family(family: Family, start: datetime, end: datetime) -> list[Found]:
    since = start - family.history
    series: Series = {}
    for builder in family.builders:
        series.update(builder(since, end))
    slots, current = load_slots(since, end) if family.stored_baseline else ({}, set())
    # A series that still has terms for this hour but no data at all in the
    # window is silent: score it as all missing, or its silence would go unseen.
    silent = [key for key in current if key not in series and key[0] in PRESENCE_METRICS]
    if silent:
        nothing = [Point(ts, None) for ts in grid(since, end, int(family.step.total_seconds()))]
        series.update({key: nothing for key in silent})
    tuning = DetectorTuning.sensitivities()
    found = []
    for (metric, entity), points in sorted(series.items()):
        split = next((i for i, p in enumerate(points) if p.ts >= start), len(points))
        sensitivity = tuning.get((metric, entity), 1.0)
        try:
            detector = build(
                {"name": family.detector, "sensitivity": sensitivity, **dict(family.config)}
            )
            history, new = points[:split], points[split:]
            if family.stored_baseline and isinstance(detector, SeasonalDetector):
                terms = slots.get((metric, entity)) or empty_slots(since, end)
                results = detector.detect_with(history, new, terms)
            else:
                results = detector.detect(history, new)
        except Exception:
            # A series the detector cannot handle is skipped, not the whole fleet.
            logger.exception("scoring %s of %s failed", metric, entity)
            continue
        anomalous = [r for r in results if r.is_anomaly]
        if anomalous:
            found.append((metric, entity, anomalous, family.step, family.detector))
    if family.name == "minute":
        found = collapse_silence(found, series)
        found.extend(multivariate_results(start, end))
    return found


def _resolve_quiet(family: Family, end: datetime) -> None:
    metrics = [m.name for m in METRICS.values() if timedelta(seconds=m.resolution) == family.step]
    Anomaly.objects.filter(
        metric__in=metrics,
        status__in=[AnomalyStatus.OPEN, AnomalyStatus.ACKNOWLEDGED],
        end__lt=end - family.step * RESOLVE_STEPS,
    ).update(status=AnomalyStatus.RESOLVED, status_changed_at=timezone.now())
