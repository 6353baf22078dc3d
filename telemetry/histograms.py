"""Merging latency histograms ({"bounds", "counts", "sum"}) across samples and buckets.

Counts add exactly when bounds agree. When a server's buckets changed (a new
version, a new flag), counts are moved up to the first target bucket whose
upper bound covers theirs, so a merged percentile can only err on the slow side.
"""

from bisect import bisect_left
from collections import Counter
from collections.abc import Iterable
from typing import Any

Histogram = dict[str, Any]


def merge(histograms: Iterable[Histogram | None]) -> Histogram | None:
    present = [h for h in histograms if h]
    if not present:
        return None
    # A histogram with buckets wins over a count-and-sum one (Triton's means): its
    # count then lands in +Inf, and the mean (sum / count) stays exact.
    shapes = Counter(tuple(h["bounds"]) for h in present if h["bounds"])
    bounds = list(shapes.most_common(1)[0][0]) if shapes else []
    counts = [0] * (len(bounds) + 1)
    total = 0.0
    has_sum = True
    for hist in present:
        if hist.get("sum") is None:
            has_sum = False
        else:
            total += hist["sum"]
        if hist["bounds"] == bounds:
            for i, count in enumerate(hist["counts"]):
                counts[i] += count
            continue
        for upper, count in zip([*hist["bounds"], float("inf")], hist["counts"], strict=True):
            if count:
                counts[bisect_left(bounds, upper) if upper != float("inf") else -1] += count
    return {"bounds": bounds, "counts": counts, "sum": total if has_sum else None}


def quantile(hist: Histogram | None, q: float, log: bool = False) -> float | None:
    """The q-quantile by linear interpolation inside a bucket, as Prometheus does.

    `log` interpolates on a log scale instead (above the first bucket): latency
    is closer to log-normal than uniform inside a wide bucket, so this errs less
    where the capacity estimate needs it.
    """
    if not hist or not hist["bounds"]:
        return None  # a count and a sum: the mean is known, no quantile is
    total = sum(hist["counts"])
    if total == 0:
        return None
    rank = q * total
    seen = 0
    lower = 0.0
    for upper, count in zip(hist["bounds"], hist["counts"], strict=False):
        if count and seen + count >= rank:
            part = (rank - seen) / count
            if log and lower > 0:
                return lower * (upper / lower) ** part
            return lower + (upper - lower) * part
        seen += count
        lower = upper
    return float(hist["bounds"][-1])


def quantile_of(histograms: Iterable[Histogram | None], q: float) -> float | None:
    """The q-quantile of several histograms' observations together: merged first, as
    Prometheus's histogram_quantile over a sum, never an average of quantiles."""
    return quantile(merge(histograms), q)


def fraction_at_most(hist: Histogram | None, value: float) -> float | None:
    """The share of observations at or under `value`, interpolating inside its bucket
    as quantile() does (Prometheus's histogram_fraction). Observations past the last
    finite bound count as over it: their value is unknown."""
    if not hist or not hist["bounds"]:
        return None
    total = sum(hist["counts"])
    if total == 0:
        return None
    under = 0.0
    lower = 0.0
    for upper, count in zip(hist["bounds"], hist["counts"], strict=False):
        if value >= upper:
            under += count
        elif value > lower:
            under += count * (value - lower) / (upper - lower)
            break
        else:
            break
        lower = upper
    return min(1.0, under / total)
