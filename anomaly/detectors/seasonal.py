"""The seasonal detector: each point against its hour's robust profile, with kinds.

Every rule reads the deviation d = (value - expected) / spread of `profile.baseline`
(all from earlier hours), or the raw values, never a later point:

- missing: `missing_points` missing values in a row, or a time gap that long;
- stuck: `stuck_points` identical values in a row where the series usually moves;
- level shift / drift: the median d of the last `short_window` points passes
  `shift_threshold`, or that of the last `long_window` points passes
  `drift_threshold`; it is a level shift when most of the deviation appeared
  within the short window, a drift when it crept up (decided when the run starts);
- spike / dip: one point's |d| passes `point_threshold`.

A point whose hour has no profile yet (no data at that hour on any of the 28
days before: under a day of history, or a series that never ran then) is
scored by the rolling z-score instead and its explanation says so.

`detect_batch` builds the baseline's hourly terms from the points themselves;
the live job passes the terms it stored (`detect_with`), so both paths run the
same rules on the same numbers.
"""

from collections.abc import Sequence
from typing import Any

import numpy as np

from anomaly import constants
from anomaly.choices import AnomalyKind
from anomaly.detectors import register
from anomaly.detectors.arrays import Floats, run_lengths, run_starts, to_arrays, trailing_median
from anomaly.detectors.base import Detector, Point, Result
from anomaly.detectors.profile import (
    ANY_DAY,
    HOUR,
    NONE,
    SAME_HOUR_OF_WEEK,
    Baseline,
    Slots,
    at_points,
    baseline,
)
from anomaly.detectors.zscore import ZScoreDetector, fmt

COLD_START_NOTE = " (cold start: no history at this hour yet)"
DEFAULTS: dict[str, float] = {
    "point_threshold": constants.SEASONAL_POINT_THRESHOLD,
    "shift_threshold": constants.SEASONAL_SHIFT_THRESHOLD,
    "drift_threshold": constants.SEASONAL_DRIFT_THRESHOLD,
    "short_window": constants.SEASONAL_SHORT_WINDOW,
    "long_window": constants.SEASONAL_LONG_WINDOW,
    "local_window": constants.SEASONAL_LOCAL_WINDOW,
    "step_share": constants.SEASONAL_STEP_SHARE,
    "stuck_points": constants.SEASONAL_STUCK_POINTS,
    "missing_points": constants.SEASONAL_MISSING_POINTS,
    "tz_offset_hours": 0.0,
    "bucket_seconds": 0.0,
    "noise_share": constants.SEASONAL_NOISE_SHARE,
    "pooled_spread": 0.0,
}
# Kind codes while vectorised; 0 = normal. Earlier in KINDS wins when rules overlap.
KINDS = [
    "",
    AnomalyKind.MISSING.value,
    AnomalyKind.STUCK.value,
    AnomalyKind.LEVEL_SHIFT.value,
    AnomalyKind.DRIFT.value,
    AnomalyKind.SPIKE.value,
    AnomalyKind.DIP.value,
]
MISSING, STUCK, SHIFT, DRIFT, SPIKE, DIP = range(1, 7)


def _phrase(source: int, weekend: bool) -> str:
    if source == SAME_HOUR_OF_WEEK:
        return "at this hour of the week"
    if source == ANY_DAY:
        return "at this hour of the day"
    return "at this hour on weekends" if weekend else "at this hour on weekdays"


@register
class SeasonalDetector(Detector):
    """Robust hour-of-week / hour-of-day profile (median, MAD) with a lagged level term.

    Config (thresholds are in robust sigmas and are divided by the sensitivity;
    windows are in points): point_threshold (6), shift_threshold (4.5),
    drift_threshold (3), short_window (7), long_window (60), step_share (0.6),
    stuck_points (10), missing_points (5), tz_offset_hours (0: days and weeks
    begin at UTC midnight), bucket_seconds (0: each point stands for its instant;
    3600 for hourly buckets stamped at their start, so each is read at its centre).
    """

    name = "seasonal"

    def __init__(self, sensitivity: float = 1.0, **config: Any) -> None:
        unknown = set(config) - set(DEFAULTS)
        if unknown:
            raise ValueError(f"unknown seasonal config keys: {', '.join(sorted(unknown))}")
        if sensitivity <= 0:
            raise ValueError("sensitivity must be above 0")
        settings = {**DEFAULTS, **config}
        super().__init__(sensitivity, **settings)
        self.settings = settings
        self.fallback = ZScoreDetector(sensitivity)

    def detect_batch(self, points: Sequence[Point]) -> list[Result]:
        return self._detect(points, 0)

    def detect(self, history: Sequence[Point], new: Sequence[Point]) -> list[Result]:
        # Same maths as detect_batch; only the history's results are never built.
        return self._detect([*history, *new], len(history))

    def detect_with(
        self, history: Sequence[Point], new: Sequence[Point], slots: Slots
    ) -> list[Result]:
        """Results for `new` from stored hourly terms; `history` only feeds the rolling rules.

        The stored terms are of UTC hours, instants and each hour's own spread
        (`anomaly.baselines`): settings that would read them otherwise are refused.
        """
        fixed = ("tz_offset_hours", "bucket_seconds", "pooled_spread")
        if any(self.settings[name] != DEFAULTS[name] for name in fixed):
            raise ValueError(f"stored terms need the default {', '.join(fixed)}")
        return self._detect([*history, *new], len(history), slots)

    def _detect(
        self, points: Sequence[Point], first: int, slots: Slots | None = None
    ) -> list[Result]:
        """Results for points[first:], each computed from the points up to it."""
        if not points:
            return []
        ts, values = to_arrays(points)
        if np.any(np.diff(ts) < 0):
            raise ValueError("points must be in time order")
        offset = self.settings["tz_offset_hours"]
        centre = ts + self.settings["bucket_seconds"] / 2
        if slots is None:
            base = baseline(centre, values, offset, bool(self.settings["pooled_spread"]))
        else:
            base = at_points(centre + offset * HOUR, slots)
        score, kind, missing_run, stuck_run, shift_age = self._rules(ts, values, base)
        cold = (base.source == NONE) | ~np.isfinite(base.expected)
        z, mean, std = (a.tolist() for a in self.fallback.scores(values))
        limit = self.settings["point_threshold"] / self.sensitivity
        known = np.isfinite(base.expected)
        lows = np.where(known, base.expected - limit * base.spread, np.nan).tolist()
        highs = np.where(known, base.expected + limit * base.spread, np.nan).tolist()
        # Plain lists: indexing numpy arrays point by point costs more than the maths.
        value_list, score_list = values.tolist(), score.tolist()
        kind_list, cold_list = kind.tolist(), cold.tolist()
        results = []
        for i in range(first, len(points)):
            point = points[i]
            code, low, high = kind_list[i], lows[i], highs[i]
            if cold_list[i] and code != MISSING:
                result = self.fallback.result(point.ts, value_list[i], z[i], mean[i], std[i])
                if result.is_anomaly:
                    note = result.explanation + COLD_START_NOTE
                    result = result._replace(explanation=note)
                results.append(result)
                continue
            if low != low:  # NaN: no expectation for this point
                low = high = None
            sentence = ""
            if code:
                sentence = self._sentence(
                    code, value_list[i], low, high, base, i, missing_run, stuck_run, shift_age
                )
                if cold_list[i]:
                    sentence += COLD_START_NOTE
            value = value_list[i]
            results.append(
                Result(
                    point.ts,
                    None if value != value else value,
                    score_list[i],
                    code != 0,
                    low,
                    high,
                    KINDS[code],
                    sentence,
                )
            )
        return results

    def _rules(
        self, ts: Floats, values: Floats, base: Baseline
    ) -> tuple[Floats, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Score (>= 1 anomalous at sensitivity 1) and kind code of every point."""
        cfg, s = self.settings, self.sensitivity
        short_w, long_w = int(cfg["short_window"]), int(cfg["long_window"])
        n = len(values)
        idx = np.arange(n)
        missing = np.isnan(values)

        dev = (values - base.expected) / base.spread
        dev = np.where(np.isfinite(base.expected), dev, np.nan)
        same = np.concatenate(([False], values[1:] == values[:-1]))
        # A stuck stretch is reported as stuck; it must not also drag the medians.
        dev[same] = np.nan
        short = trailing_median(dev, short_w)
        long = trailing_median(dev, long_w)
        long_before = np.concatenate((np.zeros(min(short_w, n)), long[: max(n - short_w, 0)]))

        # One point is judged against the level of the points just before it and the
        # usual noise: day-to-day disagreement says nothing about a single jump.
        residual = values - base.expected
        local = trailing_median(residual, int(cfg["local_window"]))
        local = np.concatenate(([np.nan], local[:-1]))
        noise = np.maximum(base.noise, base.spread * cfg["noise_share"])
        jump = (residual - local) / noise
        jump[same] = np.nan
        point_score = np.nan_to_num(np.abs(jump)) / cfg["point_threshold"]
        short_score = np.abs(short) / cfg["shift_threshold"]
        long_score = np.abs(long) / cfg["drift_threshold"]
        # The long median alone lags: it still reads a shift for half a window after
        # it ended. Count it only while the short median leans the same way.
        agrees = (np.sign(short) == np.sign(long)) & (np.abs(short) >= np.abs(long) / 2)
        sustained_score = np.maximum(short_score, np.where(agrees, long_score, 0.0))
        # Against the any-day fallback (the first Monday judged by a weekend) a whole
        # day can sit off the profile; only same-type days can tell a shift or drift.
        sustained_score[base.source == ANY_DAY] = 0.0

        missing_run = run_lengths(missing)
        gaps = np.diff(ts, prepend=ts[0])
        # The smallest interval so far stands for the sampling interval: it never
        # reads ahead, and one late point cannot inflate it.
        step = np.minimum.accumulate(np.where(gaps > 0, gaps, np.inf))
        step = np.concatenate(([np.inf], step[:-1]))
        gap_points = np.where(np.isfinite(step) & (step > 0), gaps / step - 1, 0.0)
        missing_score = np.maximum(missing_run, np.floor(gap_points)) / cfg["missing_points"]

        stuck_run = run_lengths(same) + 1
        usually_moves = base.noise > 1e-9 * np.maximum(np.abs(base.expected), 1.0)
        stuck_score = np.where(same & usually_moves, stuck_run / cfg["stuck_points"], 0.0)

        kind = np.zeros(n, dtype=np.int64)
        hit = point_score * s >= 1
        kind[hit] = np.where(jump[hit] > 0, SPIKE, DIP)
        sustained = sustained_score * s >= 1
        starts = run_starts(sustained)
        lead = np.where(short_score >= long_score, short, long)
        stepped = np.abs(short - long_before) >= cfg["step_share"] * np.abs(short)
        first = np.where(sustained, starts, 0)
        kind[sustained] = np.where(stepped[first[sustained]], SHIFT, DRIFT)
        kind[stuck_score * s >= 1] = STUCK
        kind[missing_score * s >= 1] = MISSING
        score = np.fmax.reduce([point_score, sustained_score, stuck_score, missing_score])
        score = np.where(missing, missing_score, score)
        shift_age = np.where(sustained, idx - first, 0) * np.sign(lead[first])
        return score, kind, missing_run, np.where(same, stuck_run, 0), shift_age

    def _sentence(
        self,
        kind: int,
        value: float,
        low: float | None,
        high: float | None,
        base: Baseline,
        i: int,
        missing_run: np.ndarray,
        stuck_run: np.ndarray,
        shift_age: np.ndarray,
    ) -> str:
        band = ""
        if low is not None and high is not None:
            band = f"expected {fmt(low)}–{fmt(high)} {_phrase(base.source[i], base.weekend[i])}"
        if kind == MISSING:
            if missing_run[i]:
                # A run that reaches back to the first point read may be longer still.
                floor = "at least " if missing_run[i] == i + 1 else ""
                return f"no data for {floor}{missing_run[i]} points in a row" + (
                    f", {band}" if band else ""
                )
            return "no data for a while before this point" + (f", {band}" if band else "")
        if kind == STUCK:
            return f"value stuck at {fmt(value)} for {stuck_run[i]} points, {band}"
        text = f"value {fmt(value)}, {band}"
        if kind == SHIFT:
            direction = "up" if shift_age[i] >= 0 else "down"
            return f"{text} (level shifted {direction} {abs(int(shift_age[i])) + 1} points ago)"
        if kind == DRIFT:
            return f"{text} (drifting {'up' if shift_age[i] >= 0 else 'down'})"
        return text
