"""Causal numpy helpers shared by the detectors: each output at i reads inputs 0..i only."""

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray
from scipy.ndimage import median_filter

from anomaly.detectors.base import Point

Floats = NDArray[np.float64]
Ints = NDArray[np.int64]


def to_arrays(points: Sequence[Point]) -> tuple[Floats, Floats]:
    """Unix seconds and values (NaN where missing) of `points`."""
    ts = np.fromiter((p.ts.timestamp() for p in points), dtype=np.float64, count=len(points))
    values = np.fromiter(
        (np.nan if p.value is None else p.value for p in points),
        dtype=np.float64,
        count=len(points),
    )
    return ts, values


def trailing_median(values: Floats, window: int) -> Floats:
    """Median of values[i - window + 1 .. i] (NaN counts as 0: "as expected")."""
    if len(values) == 0:
        return values.copy()
    filled = np.nan_to_num(values, nan=0.0, posinf=1e12, neginf=-1e12)
    # origin shifts the window to end at i; 'nearest' repeats the first value,
    # which keeps the start of the series independent of what follows.
    return np.asarray(
        median_filter(filled, size=window, mode="nearest", origin=(window - 1) // 2),
        dtype=np.float64,
    )


def trailing_sum(values: Floats, window: int) -> Floats:
    """Sum of values[i - window .. i - 1]: the `window` points before i, not i itself."""
    csum = np.concatenate(([0.0], np.cumsum(values)))
    idx = np.arange(len(values))
    return csum[idx] - csum[np.maximum(idx - window, 0)]


def run_lengths(flags: NDArray[np.bool_]) -> Ints:
    """For each i, how many flags in a row end at i (0 where flags[i] is False)."""
    idx = np.arange(len(flags), dtype=np.int64)
    last_false = np.maximum.accumulate(np.where(flags, -1, idx))
    return np.where(flags, idx - last_false, 0).astype(np.int64)


def run_starts(flags: NDArray[np.bool_]) -> Ints:
    """For each flagged i, the index where its run of flags began (-1 where not flagged)."""
    idx = np.arange(len(flags), dtype=np.int64)
    starts = flags & ~np.concatenate(([False], flags[:-1]))
    first = np.maximum.accumulate(np.where(starts, idx, -1))
    return np.where(flags, first, -1).astype(np.int64)


def group_median(groups: Ints, values: Floats, n_groups: int) -> Floats:
    """Median of the finite values of each group 0..n_groups-1 (NaN for an empty group)."""
    ok = np.isfinite(values)
    g, v = groups[ok], values[ok]
    out = np.full(n_groups, np.nan)
    if len(v) == 0:
        return out
    order = np.lexsort((v, g))
    g, v = g[order], v[order]
    counts = np.bincount(g, minlength=n_groups)
    starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
    has = counts > 0
    lo = starts[has] + (counts[has] - 1) // 2
    hi = starts[has] + counts[has] // 2
    out[has] = (v[lo] + v[hi]) / 2
    return out
