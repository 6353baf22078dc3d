"""The seasonal baseline: what a series is expected to read at each instant, from its past only.

Hourly medians of earlier days form the profile: the same hour of the week when
at least two earlier weeks exist, otherwise the same hour of earlier days of the
same type (weekday or weekend), otherwise of any earlier day. The expectation is
interpolated between hour centres and corrected by a lagged robust level (the
median residual of recent hours) so a slow trend across days is not reported.
"""

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from anomaly import constants
from anomaly.detectors.arrays import Floats, Ints, group_median

HOUR = 3600
DAY_HOURS = 24
WEEK_HOURS = 168
MAD_TO_SIGMA = 1.4826
# Profile sources, in the order they are preferred.
NONE, ANY_DAY, SAME_DAY_TYPE, SAME_HOUR_OF_WEEK = 0, 1, 2, 3


@dataclass(frozen=True)
class Baseline:
    """Per point: expected value, expected spread (a robust sigma), usual noise, profile source."""

    expected: Floats
    spread: Floats
    noise: Floats
    source: Ints
    weekend: NDArray[np.bool_]


@dataclass(frozen=True)
class Slots:
    """The baseline's hourly terms, one per hour slot from `first_hour` (hours since the epoch).

    Each slot's terms come from earlier hours only, so they can be computed once
    an hour is over, stored, and read back by the live job (`anomaly.baselines`).
    """

    first_hour: int
    profile: Floats  # the profile's value at the hour's centre
    level: Floats  # lagged median residual: the trend correction
    noise: Floats  # usual within-hour noise at this hour
    day_spread: Floats  # day-to-day disagreement (a robust sigma)
    calibration: Floats  # >= 1: how much wider than predicted recent errors were
    source: Ints


def _nanmedian(values: Floats, axis: int = 1) -> Floats:
    """Median of each row ignoring NaN; NaN for a row that is all NaN.

    np.nanmedian gives the same numbers, but on small rows it goes through masked
    arrays and was most of the baseline's time; sorting pushes NaN to the end.
    """
    if axis != 1 or values.ndim != 2:
        raise ValueError("rows of a 2-d array only")
    if values.shape[1] == 0:
        return np.full(len(values), np.nan)
    ordered = np.sort(values, axis=1)
    count = (~np.isnan(values)).sum(axis=1)
    rows = np.arange(len(values))
    low = ordered[rows, np.maximum(count - 1, 0) // 2]
    high = ordered[rows, np.minimum(count // 2, values.shape[1] - 1)]
    return np.where(count > 0, (low + high) / 2, np.nan)


def _pick(valid: NDArray[np.bool_], most: int) -> NDArray[np.bool_]:
    """Mask of the first `most` valid candidates per row (most recent first)."""
    return valid & (np.cumsum(valid, axis=1) <= most)


def _masked_median(values: Floats, keep: NDArray[np.bool_]) -> Floats:
    picked = np.where(keep, values, np.nan)
    out = np.full(len(values), np.nan)
    rows = keep.any(axis=1)
    out[rows] = _nanmedian(picked[rows], axis=1)
    return out


def _lagged(hourly: Floats, lags: Ints) -> Floats:
    """Matrix [hour, k] = hourly[hour - lags[k]] (NaN before the first hour)."""
    rows = np.arange(len(hourly))[:, None] - lags[None, :]
    return np.where(rows >= 0, hourly[np.maximum(rows, 0)], np.nan)


def hourly_profile(
    first_hour: int, hourly_median: Floats, hourly_noise: Floats
) -> tuple[Floats, Floats, Floats, Ints, NDArray[np.bool_]]:
    """Profile value, day-to-day spread, usual noise and source for every hour slot."""
    n = len(hourly_median)
    abs_hour = first_hour + np.arange(n)
    # 1970-01-01 was a Thursday: +3 makes Monday 0.
    weekend = ((abs_hour // DAY_HOURS + 3) % 7) >= 5

    day_lags = DAY_HOURS * np.arange(1, 29)
    by_day = _lagged(hourly_median, day_lags)
    noise_by_day = _lagged(hourly_noise, day_lags)
    lag_weekend = _lagged(weekend.astype(np.float64), day_lags) == 1.0
    finite = np.isfinite(by_day)
    same_type = _pick(finite & (lag_weekend == weekend[:, None]), constants.SEASONAL_PROFILE_DAYS)
    any_day = _pick(finite, constants.SEASONAL_PROFILE_DAYS)

    week_lags = WEEK_HOURS * np.arange(1, constants.SEASONAL_PROFILE_WEEKS + 1)
    by_week = _lagged(hourly_median, week_lags)
    noise_by_week = _lagged(hourly_noise, week_lags)
    weekly = np.isfinite(by_week)

    source = np.full(n, NONE, dtype=np.int64)
    source[any_day.any(axis=1)] = ANY_DAY
    source[same_type.any(axis=1)] = SAME_DAY_TYPE
    source[weekly.sum(axis=1) >= constants.SEASONAL_MIN_WEEKS] = SAME_HOUR_OF_WEEK

    value = np.full(n, np.nan)
    spread = np.zeros(n)
    noise = np.full(n, np.nan)
    unknown_spread = np.zeros(n, dtype=bool)
    for code, values, noises, keep in (
        (ANY_DAY, by_day, noise_by_day, any_day),
        (SAME_DAY_TYPE, by_day, noise_by_day, same_type),
        (SAME_HOUR_OF_WEEK, by_week, noise_by_week, weekly),
    ):
        rows = source == code
        if not rows.any():
            continue
        v, k = values[rows], keep[rows]
        med = _masked_median(v, k)
        value[rows] = med
        noise[rows] = _masked_median(noises[rows], k & np.isfinite(noises[rows]))
        # Day-to-day disagreement widens the band; two days say too little about it.
        dev = np.where(k, np.abs(v - med[:, None]), np.nan)
        enough = k.sum(axis=1) >= 3
        mad = np.full(len(med), 0.0)
        if enough.any():
            mad[enough] = MAD_TO_SIGMA * _nanmedian(dev[enough], axis=1)
        spread[rows] = mad
        unknown_spread[np.flatnonzero(rows)[~enough]] = True
    # Two weeks cannot tell how far weeks disagree; the last same-type days can,
    # around their own median. (A series with one point an hour has no other
    # measure of spread: without this its band would shrink to the floor.)
    fill = unknown_spread & (same_type.sum(axis=1) >= 3)
    if fill.any():
        v, k = by_day[fill], same_type[fill]
        med = _masked_median(v, k)
        dev = np.where(k, np.abs(v - med[:, None]), np.nan)
        spread[fill] = MAD_TO_SIGMA * _nanmedian(dev, axis=1)
    return value, spread, noise, source, weekend


def trailing_level(hourly_residual: Floats) -> Floats:
    """Per hour slot: median residual of the LEVEL_HOURS hours ending LEVEL_LAG_HOURS before it."""
    n = len(hourly_residual)
    lag, width = constants.SEASONAL_LEVEL_LAG_HOURS, constants.SEASONAL_LEVEL_HOURS
    padded = np.concatenate((np.full(lag + width, np.nan), hourly_residual))
    windows = np.lib.stride_tricks.sliding_window_view(padded, width)[:n]
    counts = np.isfinite(windows).sum(axis=1)
    level = np.zeros(n)
    enough = counts >= width // 4
    if enough.any():
        level[enough] = _nanmedian(windows[enough], axis=1)
    return level


def calibration(hourly_error: Floats, hourly_spread: Floats) -> Floats:
    """Per hour slot: how much wider than predicted the profile's errors of the last week were.

    The spread predicted from a handful of days is itself uncertain; the errors the
    profile actually made over the previous CALIBRATION_HOURS complete hours say how
    far to trust it. Never below 1: a lucky week does not tighten the band.
    """
    n, width = len(hourly_error), constants.SEASONAL_CALIBRATION_HOURS
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.abs(hourly_error / hourly_spread)
    z[~np.isfinite(z)] = np.nan
    padded = np.concatenate((np.full(width, np.nan), z))
    windows = np.lib.stride_tricks.sliding_window_view(padded, width)[:n]
    enough = np.isfinite(windows).sum(axis=1) >= DAY_HOURS
    factor = np.ones(n)
    if enough.any():
        factor[enough] = MAD_TO_SIGMA * _nanmedian(windows[enough], axis=1)
    return np.maximum(factor, 1.0)


def observe(slot: Ints, values: Floats, n_slots: int) -> tuple[Floats, Floats]:
    """Median and noise (a robust sigma from successive differences) of each hour slot."""
    median = group_median(slot, values, n_slots)
    same_hour = np.concatenate(([False], slot[1:] == slot[:-1]))
    diffs = np.abs(np.diff(values, prepend=np.nan))
    diffs[~same_hour] = np.nan
    # Successive differences measure noise without being fooled by the daily shape.
    return median, MAD_TO_SIGMA / np.sqrt(2) * group_median(slot, diffs, n_slots)


def profiles(
    first_hour: int, median: Floats, noise: Floats, pooled: bool = False
) -> tuple[Floats, Floats, Floats, Ints]:
    """Profile, day spread (floored by the last day's typical), usual noise and source per slot.

    `pooled` takes the last day's typical spread instead of each hour's own: with
    one point an hour, each hour's spread rests on three to five values only.
    """
    profile, day_spread, usual, source, _ = hourly_profile(first_hour, median, noise)
    # A MAD of three to five days is itself noisy; days disagree by similar amounts
    # at neighbouring hours, so take at least the typical disagreement of the last day.
    padded = np.concatenate((np.full(DAY_HOURS - 1, np.nan), day_spread))
    recent = np.lib.stride_tricks.sliding_window_view(padded, DAY_HOURS)
    typical = _nanmedian(np.where(recent > 0, recent, np.nan), axis=1)
    if pooled:
        return profile, np.where(np.isfinite(typical), typical, day_spread), usual, source
    return profile, np.fmax(day_spread, typical), usual, source


def _positions(local: Floats, first_hour: int, n_slots: int) -> tuple[Ints, Ints, Floats]:
    """Left and right hour slot of each instant and its weight between their centres."""
    pos = (local - first_hour * HOUR) / HOUR - 0.5
    left = np.clip(np.floor(pos).astype(np.int64), 0, n_slots - 1)
    right = np.clip(left + 1, 0, n_slots - 1)
    return left, right, np.clip(pos - left, 0.0, 1.0)


def seasonal_at(local: Floats, first_hour: int, profile: Floats) -> Floats:
    """The profile interpolated between hour centres: hourly steps would misread a steep ramp."""
    left, right, frac = _positions(local, first_hour, len(profile))
    pl, pr = profile[left], profile[right]
    pl, pr = np.where(np.isfinite(pl), pl, pr), np.where(np.isfinite(pr), pr, pl)
    return pl * (1 - frac) + pr * frac


def residuals(slot: Ints, values: Floats, seasonal: Floats, source: Ints) -> Floats:
    """Median of value minus profile per slot; NaN where the profile says nothing of the level."""
    residual = group_median(slot, values - seasonal, len(source))
    # Hours judged against the any-day fallback (a weekday against weekends) say
    # nothing about the level; they would tilt the first days of each type.
    residual[source < SAME_DAY_TYPE] = np.nan
    return residual


def errors(
    median: Floats, profile: Floats, level: Floats, noise: Floats, day_spread: Floats
) -> tuple[Floats, Floats]:
    """What each hour's median missed by, and the spread the baseline predicted for it."""
    # One point an hour has no within-hour noise: the day spread alone is predicted.
    return median - profile - level, np.hypot(np.nan_to_num(noise), day_spread)


def at_points(local: Floats, slots: Slots) -> Baseline:
    """The expectation and spread of every instant (local seconds) from the hourly terms."""
    n_slots = len(slots.profile)
    abs_hour = np.floor(local / HOUR).astype(np.int64)
    slot = np.clip(abs_hour - slots.first_hour, 0, n_slots - 1)
    left, right, frac = _positions(local, slots.first_hour, n_slots)
    level = slots.level[left] * (1 - frac) + slots.level[right] * frac
    expected = seasonal_at(local, slots.first_hour, slots.profile) + level
    point_noise = np.fmax(slots.noise[left], slots.noise[right])
    point_noise = np.where(np.isfinite(point_noise), point_noise, 0.0)
    day_spread = np.fmax(slots.day_spread[left], slots.day_spread[right])
    spread = np.sqrt(point_noise**2 + np.where(np.isfinite(day_spread), day_spread, 0.0) ** 2)
    spread *= slots.calibration[slot]
    floor = np.maximum(constants.SEASONAL_MIN_RELATIVE_SPREAD * np.abs(expected), 1e-9)
    spread = np.where(np.isfinite(expected), np.maximum(spread, floor), np.nan)
    weekend = ((abs_hour // DAY_HOURS + 3) % 7) >= 5
    return Baseline(expected, spread, point_noise, slots.source[slot], weekend)


def baseline(
    ts: Floats, values: Floats, tz_offset_hours: float = 0.0, pooled: bool = False
) -> Baseline:
    """The expectation for every point, each from the hours before its own only."""
    local = ts + tz_offset_hours * HOUR
    abs_hour = np.floor(local / HOUR).astype(np.int64)
    first_hour = int(abs_hour[0])
    slot = abs_hour - first_hour
    n_slots = int(slot[-1]) + 2  # one more: interpolation reads the next hour's profile

    median, noise = observe(slot, values, n_slots)
    profile, day_spread, usual, source = profiles(first_hour, median, noise, pooled)
    residual = residuals(slot, values, seasonal_at(local, first_hour, profile), source)
    level = trailing_level(residual)
    calib = calibration(*errors(median, profile, level, usual, day_spread))
    slots = Slots(first_hour, profile, level, usual, day_spread, calib, source)
    return at_points(local, slots)
