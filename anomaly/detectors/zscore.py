"""Rolling z-score: the cold-start fallback of the seasonal detector and the benchmark baseline."""

import math
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import numpy as np

from anomaly import constants
from anomaly.choices import AnomalyKind
from anomaly.detectors import register
from anomaly.detectors.arrays import Floats, to_arrays, trailing_sum
from anomaly.detectors.base import Detector, Point, Result


def fmt(value: float) -> str:
    """A number for a sentence: three significant digits, no exponent for everyday sizes."""
    return f"{value:.3g}" if abs(value) < 1e6 else f"{value:,.0f}"


@register
class ZScoreDetector(Detector):
    """|value - mean| / std over the previous `window` points, flagged above `threshold`.

    Config: `window` (points, default 60), `threshold` (default 3; divided by the
    sensitivity), `min_points` (earlier values needed for a verdict, default 10).
    It knows no seasonality and reports only spikes and dips; a missing value is
    never flagged.
    """

    name = "zscore"

    def __init__(
        self,
        sensitivity: float = 1.0,
        window: int = constants.ZSCORE_WINDOW,
        threshold: float = constants.ZSCORE_THRESHOLD,
        min_points: int = constants.ZSCORE_MIN_POINTS,
        **config: Any,
    ) -> None:
        if config:
            raise ValueError(f"unknown zscore config keys: {', '.join(sorted(config))}")
        if window < 2 or threshold <= 0 or sensitivity <= 0:
            raise ValueError("zscore needs window >= 2, threshold > 0 and sensitivity > 0")
        super().__init__(sensitivity, window=window, threshold=threshold, min_points=min_points)
        self.window, self.threshold, self.min_points = window, threshold, min_points

    def scores(self, values: Floats) -> tuple[Floats, Floats, Floats]:
        """z, trailing mean and trailing std of every point (NaN until min_points)."""
        ok = np.isfinite(values)
        # Centre on one value first: sums of squares of large, barely moving values
        # (a temperature, a cost) would otherwise lose their variance to rounding.
        ref = values[ok][0] if ok.any() else 0.0
        x = np.where(ok, values - ref, 0.0)
        n = trailing_sum(ok.astype(np.float64), self.window)
        s1 = trailing_sum(x, self.window)
        s2 = trailing_sum(x * x, self.window)
        enough = n >= max(self.min_points, 2)
        safe_n = np.where(enough, n, 1.0)
        mean = s1 / safe_n
        var = np.maximum(s2 / safe_n - mean * mean, 0.0) * safe_n / np.maximum(safe_n - 1, 1)
        std = np.sqrt(var)
        std = np.maximum(std, 1e-9 * np.maximum(np.abs(mean + ref), 1.0))
        z = np.where(enough & ok, (x - mean) / std, np.nan)
        return z, np.where(enough, mean + ref, np.nan), np.where(enough, std, np.nan)

    def detect_batch(self, points: Sequence[Point]) -> list[Result]:
        ts, values = to_arrays(points)
        z, mean, std = (a.tolist() for a in self.scores(values))
        return [
            self.result(p.ts, v, zi, m, sd)
            for p, v, zi, m, sd in zip(points, values.tolist(), z, mean, std, strict=True)
        ]

    def result(self, ts: datetime, value: float, z: float, mean: float, std: float) -> Result:
        """The result of one point from its z, trailing mean and trailing std."""
        limit = self.threshold / self.sensitivity
        known = math.isfinite(mean)
        low = float(mean - limit * std) if known else None
        high = float(mean + limit * std) if known else None
        if not math.isfinite(value):
            return Result(ts, None, 0.0, False, low, high, "", "")
        if not math.isfinite(z):
            return Result(ts, float(value), 0.0, False, low, high, "", "")
        score = abs(z) / self.threshold
        if abs(z) < limit:
            return Result(ts, float(value), score, False, low, high, "", "")
        kind = AnomalyKind.SPIKE if z > 0 else AnomalyKind.DIP
        sentence = (
            f"value {fmt(value)}, expected {fmt(low or 0.0)}–{fmt(high or 0.0)}"
            f" from the last {self.window} points"
        )
        return Result(ts, float(value), score, True, low, high, kind.value, sentence)
