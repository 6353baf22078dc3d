"""The seasonal detector's trained state: the hourly terms of every per-minute series, kept current.

The seasonal baseline of an instant depends only on hourly figures of earlier
hours (medians and noise up to four weeks back, residuals of the last three
days, errors of the last week). Once an hour is over, `refresh_baselines`
observes it from the minute rollups, stores its figures in `SeriesHour`, and
computes the terms of the next hours from the stored rows, with the same
functions `detect_batch` uses. A scoring tick then reads a few rows per series
(`load_slots`) and a few hours of minutes, instead of weeks of minutes.

Hours are observed in chunks of a day, each in its own transaction with the
watermark, so a crash loses nothing and a first run over weeks of history is
spread over several ticks.
"""

import logging
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import numpy as np
from django.db import connection, transaction
from django.db.models import Min

from anomaly.detectors import Point
from anomaly.detectors.arrays import Floats, to_arrays
from anomaly.detectors.profile import (
    HOUR,
    NONE,
    Slots,
    calibration,
    errors,
    observe,
    profiles,
    residuals,
    seasonal_at,
    trailing_level,
)
from anomaly.models import ScoringWatermark, SeriesHour
from anomaly.series import Series, deployment_series, gpu_series
from inferscope.lib.sql import epoch, param
from telemetry.choices import Resolution
from telemetry.models import GpuRollup, InferenceRollup

__all__ = ["WATERMARK", "load_slots", "refresh_baselines"]

logger = logging.getLogger(__name__)

WATERMARK = "baseline"
# The profile looks up to 28 days back; one more day covers the last day's
# typical spread of the first hours of a chunk.
WINDOW = timedelta(days=29)
CHUNK = timedelta(days=1)
MAX_CHUNKS_PER_RUN = 7
# ... and no new chunk after this long, well inside the task's time limit.
MAX_SECONDS_PER_RUN = 120
# Terms are written this many hours past the last observed hour: the current
# hour's and the next (points interpolate towards the next hour's centre).
AHEAD_HOURS = 2
# A series with no data for this long is retired: no terms ahead, so it is no
# longer scored (its "missing data" anomaly then resolves).
RETIRE_AFTER_HOURS = 24
KEEP = WINDOW + timedelta(days=1)
# Rows this recent feed the level (79 hours) and calibration (168 hours) too.
RECENT = timedelta(days=8)

OBSERVED = ("median", "noise", "residual")
EXPECTED = ("profile", "level", "usual_noise", "day_spread", "calibration")
FIELDS = (*OBSERVED, *EXPECTED, "source")
Key = tuple[str, str]


def hour_of(ts: datetime) -> int:
    """Hours since the epoch of the hour holding `ts`."""
    return int(ts.timestamp()) // HOUR


def at_hour(index: int) -> datetime:
    return datetime.fromtimestamp(index * HOUR, tz=UTC)


def refresh_baselines(until: datetime) -> datetime:
    """Observe the complete hours before `until` not yet observed; returns where observing stopped.

    At most MAX_CHUNKS_PER_RUN days per call: the caller scores only up to one
    hour past the returned time, so scoring waits while a backlog is worked off.
    """
    target = at_hour(hour_of(until))
    mark = ScoringWatermark.objects.filter(name=WATERMARK).first()
    start = mark.scored_until if mark else _first_hour(target)
    # After a long outage only the window matters: older hours are never read.
    start = max(start, at_hour(hour_of(target - WINDOW)))
    began = time.monotonic()
    for _ in range(MAX_CHUNKS_PER_RUN):
        if start >= target or time.monotonic() - began > MAX_SECONDS_PER_RUN:
            break
        stop = min(start + CHUNK, target)
        if not _refresh(start, stop):
            break
        start = stop
    return start


def _first_hour(target: datetime) -> datetime:
    """Where a first run starts: the oldest minute rollup within the window, else `target`."""
    since = target - WINDOW
    firsts = [
        model.objects.filter(resolution=Resolution.MINUTE, bucket__gte=since).aggregate(
            first=Min("bucket")
        )["first"]
        for model in (GpuRollup, InferenceRollup)
    ]
    known = [f for f in firsts if f is not None]
    return at_hour(hour_of(min(known))) if known else target


def _refresh(start: datetime, stop: datetime) -> bool:
    """Observe [start, stop) and write its terms; False if another run did it meanwhile."""
    points: Series = {}
    for builder in (gpu_series, deployment_series):
        points.update(builder(start, stop))
    first_hour = hour_of(start - WINDOW)
    state = _stored(first_hour, start - WINDOW, stop + AHEAD_HOURS * timedelta(hours=1))
    lo, hi = hour_of(start) - first_hour, hour_of(stop) - first_hour
    rows = []
    for key in sorted(set(points) | set(state)):
        terms = state.get(key)
        if terms is None:
            terms = np.full((len(FIELDS), hi + AHEAD_HOURS), np.nan)
        try:
            rows.extend(_terms(key, first_hour, lo, hi, terms, points.get(key, ())))
        except Exception:
            # One series the maths cannot handle must not stall every other's scoring.
            logger.exception("observing %s of %s failed; skipped", *key)
    with transaction.atomic():
        mark, created = ScoringWatermark.objects.select_for_update().get_or_create(
            name=WATERMARK, defaults={"scored_until": start}
        )
        if mark.scored_until != start:
            logger.info("another run observed the hours from %s meanwhile", start)
            return False
        SeriesHour.objects.bulk_create(
            rows,
            batch_size=2000,
            update_conflicts=True,
            unique_fields=["metric", "entity", "hour"],
            update_fields=list(FIELDS),
        )
        SeriesHour.objects.filter(hour__lt=stop - KEEP).delete()
        mark.scored_until = stop
        mark.save(update_fields=["scored_until"])
    return True


def _stored(first_hour: int, since: datetime, until: datetime) -> dict[Key, Floats]:
    """The stored rows of [since, until) as one (field, hour slot) array per series.

    Rows older than RECENT feed only the profile, so only their median and noise
    are read. Raw queries with epoch hours: parsing a datetime per row was most
    of the refresh's time at a thousand GPUs.
    """
    n = hour_of(until) - first_hour
    recent = max(since, until - RECENT)
    table = SeriesHour._meta.db_table
    keys: dict[Key, int] = {}
    parts = []
    for fields, lo, hi in ((("median", "noise"), since, recent), (FIELDS, recent, until)):
        sql = (
            f"SELECT metric, entity, {epoch('hour')}, {', '.join(fields)} FROM {table}"
            " WHERE hour >= %s AND hour < %s"
        )
        with connection.cursor() as cursor:
            cursor.execute(sql, [param(lo), param(hi)])
            rows = cursor.fetchall()
        if not rows:
            continue
        index = np.fromiter(
            (keys.setdefault((r[0], r[1]), len(keys)) for r in rows), np.int64, len(rows)
        )
        slot = np.fromiter((r[2] for r in rows), np.float64, len(rows)) // HOUR - first_hour
        # None becomes NaN in a float array.
        values = np.array([r[3:] for r in rows], dtype=np.float64)
        columns = [FIELDS.index(f) for f in fields]
        parts.append((index, slot.astype(np.int64), columns, values))
    state = np.full((len(keys), len(FIELDS), n), np.nan)
    for series, slots, columns, table_values in parts:
        for k, column in enumerate(columns):
            state[series, column, slots] = table_values[:, k]
    return {key: state[i] for key, i in keys.items()}


def _terms(
    key: Key, first_hour: int, lo: int, hi: int, terms: Floats, points: Sequence[Point]
) -> list[SeriesHour]:
    """Observe slots [lo, hi) from `points` and compute the terms of [lo, hi + AHEAD_HOURS)."""
    median, noise, residual, profile, level, usual, day_spread, calib, source_f = terms
    if points:
        ts, values = to_arrays(points)
        slot = (np.floor(ts / HOUR).astype(np.int64)) - first_hour
        observed_median, observed_noise = observe(slot, values, len(median))
        median[lo:hi], noise[lo:hi] = observed_median[lo:hi], observed_noise[lo:hi]
    seen = np.flatnonzero(np.isfinite(median[:hi]))
    if len(seen) == 0 or seen[-1] < hi - RETIRE_AFTER_HOURS:
        return []  # retired: no terms ahead, so no longer scored
    new_profile, new_spread, new_usual, new_source = profiles(first_hour, median, noise)
    profile[lo:], day_spread[lo:], usual[lo:] = new_profile[lo:], new_spread[lo:], new_usual[lo:]
    source_f[lo:] = new_source[lo:]
    source = np.nan_to_num(source_f, nan=NONE).astype(np.int64)
    if points:
        seasonal = seasonal_at(ts, first_hour, profile)
        residual[lo:hi] = residuals(slot, values, seasonal, source)[lo:hi]
    level[lo:] = trailing_level(residual)[lo:]
    calib[lo:] = calibration(*errors(median, profile, level, usual, day_spread))[lo:]

    metric, entity = key
    rows = []
    for i in range(lo, hi + AHEAD_HOURS):
        values_i = [None if v != v else float(v) for v in terms[:-1, i]]
        if values_i[0] is None and source[i] == NONE and i < hi:
            continue  # neither data nor a profile: nothing worth a row
        rows.append(
            SeriesHour(
                metric=metric,
                entity=entity,
                hour=at_hour(first_hour + i),
                source=int(source[i]),
                **dict(zip(FIELDS[:-1], values_i, strict=True)),
            )
        )
    return rows


def load_slots(
    start: datetime, end: datetime, key: Key | None = None
) -> tuple[dict[Key, Slots], set[Key]]:
    """The stored terms of every series (or of one) for the hours of [start, end], and
    the series that have terms for the hour holding `end` (those still expected to report)."""
    first_hour, last_hour = hour_of(start), hour_of(end) + 1
    n = last_hour - first_hour + 1
    names = ("profile", "level", "usual_noise", "day_spread", "calibration", "source")
    arrays: dict[Key, Floats] = {}
    stored = SeriesHour.objects.filter(hour__gte=at_hour(first_hour), hour__lte=at_hour(last_hour))
    if key is not None:
        stored = stored.filter(metric=key[0], entity=key[1])
    rows = stored.values_list("metric", "entity", "hour", *names)
    current: set[Key] = set()
    for metric, entity, hour, *values in rows.iterator(chunk_size=10_000):
        key = (metric, entity)
        terms = arrays.get(key)
        if terms is None:
            terms = arrays[key] = np.full((len(names), n), np.nan)
        index = hour_of(hour) - first_hour
        terms[:, index] = [np.nan if v is None else v for v in values]
        if index == n - 2:
            current.add(key)
    return {key: _slots(first_hour, terms) for key, terms in arrays.items()}, current


def _slots(first_hour: int, terms: Floats) -> Slots:
    profile, level, usual, day_spread, calib, source = terms
    return Slots(
        first_hour,
        profile,
        # A missing row means no correction: no level shift, no widening.
        np.nan_to_num(level, nan=0.0),
        usual,
        day_spread,
        np.nan_to_num(calib, nan=1.0),
        np.nan_to_num(source, nan=NONE).astype(np.int64),
    )


def empty_slots(start: datetime, end: datetime) -> Slots:
    """Terms of a series nothing is known about yet: every point is a cold start."""
    first_hour = hour_of(start)
    n = hour_of(end) + 2 - first_hour
    nan = np.full(n, np.nan)
    return Slots(first_hour, nan, np.zeros(n), nan, nan, np.ones(n), np.zeros(n, dtype=np.int64))
