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
    shapes = Counter(tuple(h["bounds"]) for h in present)
    bounds = list(shapes.most_common(1)[0][0])
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


def quantile(hist: Histogram | None, q: float) -> float | None:
    """The q-quantile by linear interpolation inside a bucket, as Prometheus does."""
    if not hist:
        return None
    total = sum(hist["counts"])
    if total == 0:
        return None
    rank = q * total
    seen = 0
    lower = 0.0
    for upper, count in zip(hist["bounds"], hist["counts"], strict=False):
        if count and seen + count >= rank:
            return lower + (upper - lower) * (rank - seen) / count
        seen += count
        lower = upper
    return float(hist["bounds"][-1])
