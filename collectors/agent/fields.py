"""Snapshots of a server's series, and how each kind of ServerMap source turns two
consecutive snapshots into one InferenceSample field.

A scrape is a snapshot of cumulative counters; a sample is what happened between
two scrapes. Deltas are taken per series (label set) before summing, so a restart
of one engine (its counters back near zero) counts as a reset of that series only,
and never as a negative delta.
"""

import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from vocab.servers import (
    Counter,
    CumulativeTime,
    FirstOf,
    Gauge,
    Histogram,
    HistogramSum,
    LifetimeRate,
    Source,
    SumOfHistograms,
)

logger = logging.getLogger(__name__)

LabelKey = tuple[tuple[str, str], ...]
# The ingest schema's bound on one interval's counter step (collectors/schema.py Delta).
MAX_DELTA = 2**40
Where = Mapping[str, frozenset[str]]


@dataclass
class HistogramSeries:
    buckets: dict[float, float]  # upper bound (inf included) -> cumulative count
    total: float = 0.0  # the _sum


@dataclass
class Snapshot:
    counters: dict[str, dict[LabelKey, float]] = field(default_factory=dict)
    gauges: dict[str, dict[LabelKey, float]] = field(default_factory=dict)
    histograms: dict[str, dict[LabelKey, HistogramSeries]] = field(default_factory=dict)

    def has(self, name: str) -> bool:
        return name in self.counters or name in self.gauges or name in self.histograms


def label_key(labels: Mapping[str, str], drop: str = "") -> LabelKey:
    return tuple(sorted((k, v) for k, v in labels.items() if k != drop))


def within(value: float, top: float) -> float | None:
    """A reading the ingest schema bounds to [0, top]: a hair past a bound (float
    rounding) is clamped, one far past it (a percent where a fraction belongs) is
    None. Sent as read, either would have the server refuse the whole batch."""
    if -1e-6 <= value <= top + 1e-6 * max(top, 1.0):
        return min(max(value, 0.0), top)
    return None


def _first(names: tuple[str, ...], present: Mapping[str, Any]) -> str | None:
    return next((n for n in names if n in present), None)


def _selected(key: LabelKey, where: Where) -> bool:
    if not where:
        return True
    labels = dict(key)
    return all(labels.get(k) in allowed for k, allowed in where.items())


def _raw_delta(name: str, prev: Snapshot, cur: Snapshot, where: Where | None = None) -> float:
    """A counter's increase summed over its series; a series that went down was reset."""
    before = prev.counters.get(name, {})
    total = 0.0
    for key, value in cur.counters[name].items():
        if where and not _selected(key, where):
            continue
        old = before.get(key, 0.0)
        total += value - old if value >= old else value  # below the last value: a reset
    return total


def _bounded(name: str, total: float) -> int | None:
    if total > MAX_DELTA:
        # Only a misread reset gets here (two replicas behind one URL): the
        # server refuses it, and one bad counter must not lose the whole batch.
        logger.warning("dropping an implausible %s step of %d", name, total)
        return None
    return round(total)


def counter_delta(source: Counter, prev: Snapshot, cur: Snapshot) -> int | None:
    name = _first(source.names, cur.counters)
    if name is None or (source.requires and not any(cur.has(n) for n in source.requires)):
        return None
    return _bounded(name, _raw_delta(name, prev, cur, source.where))


def _one_per_engine(
    series: Mapping[LabelKey, HistogramSeries], repeated: frozenset[str]
) -> dict[LabelKey, HistogramSeries]:
    """Of ranks that repeat one engine's observations, the one that counted most."""
    kept: dict[LabelKey, tuple[LabelKey, HistogramSeries]] = {}
    for key, found in series.items():
        engine = tuple((k, v) for k, v in key if k not in repeated)
        count = found.buckets.get(math.inf, 0.0)
        if engine not in kept or count > kept[engine][1].buckets.get(math.inf, 0.0):
            kept[engine] = (key, found)
    return dict(kept.values())


def histogram_delta(
    name: str,
    prev: Snapshot,
    cur: Snapshot,
    where: Where | None = None,
    repeated: frozenset[str] = frozenset(),
) -> tuple[list[float], list[float], float] | None:
    """(finite bounds, per-bucket deltas incl. +Inf, sum delta), summed over series."""
    before = prev.histograms.get(name, {})
    bounds: list[float] | None = None
    counts: list[float] = []
    total = 0.0
    current = cur.histograms[name]
    if repeated:
        current = _one_per_engine(current, repeated)
    for key, series in current.items():
        if where and not _selected(key, where):
            continue
        les = sorted(series.buckets)
        if not les or les[-1] != math.inf:
            continue
        if bounds is None:
            bounds = les[:-1]
            counts = [0.0] * len(les)
        elif les[:-1] != bounds:
            logger.warning("%s: series %s has other buckets; skipped", name, dict(key))
            continue
        old = before.get(key)
        if (
            old is None
            or set(old.buckets) != set(series.buckets)  # re-bucketed: a new series
            or any(series.buckets[le] < old.buckets.get(le, 0.0) for le in les)
        ):
            old = HistogramSeries({})  # new series, or the server restarted: count from zero
        cumulative = [series.buckets[le] - old.buckets.get(le, 0.0) for le in les]
        for index, value in enumerate(cumulative):
            counts[index] += value - (cumulative[index - 1] if index else 0.0)
        total += series.total - old.total
    if bounds is None:
        return None
    return bounds, counts, total


def histogram_field(source: Histogram, prev: Snapshot, cur: Snapshot) -> dict | None:
    name = _first(source.names, cur.histograms)
    if name is None:
        return None
    delta = histogram_delta(name, prev, cur, source.where, source.repeated)
    if delta is None or not delta[0]:
        return None
    bounds, counts, total = delta
    return {
        "bounds": [b * source.scale for b in bounds],
        "counts": [max(0, round(c)) for c in counts],
        "sum": max(0.0, total * source.scale),
    }


def histogram_sum(source: HistogramSum, prev: Snapshot, cur: Snapshot) -> float | None:
    name = _first(source.names, cur.histograms)
    if name is None:
        return None
    delta = histogram_delta(name, prev, cur, source.where)
    if delta is None:
        return None
    if source.seconds:
        return max(0.0, round(delta[2], 6))
    return _bounded(name, max(0.0, delta[2]))  # token counts: at most a Delta


def gauge(source: Gauge, cur: Snapshot) -> float | None:
    name = _first(source.names, cur.gauges)
    if name is None or not cur.gauges[name]:
        return None
    series = cur.gauges[name]
    if source.repeated:
        # Ranks of one engine that each report the engine's figure (SGLang's TP
        # ranks with metrics on for all schedulers): one value per engine.
        engines: dict[LabelKey, float] = {}
        for key, found in series.items():
            engine = tuple((k, v) for k, v in key if k not in source.repeated)
            engines[engine] = max(found, engines.get(engine, found))
        values = list(engines.values())
    else:
        values = list(series.values())
    return sum(values) if source.aggregate == "sum" else sum(values) / len(values)


def cumulative_time(source: CumulativeTime, prev: Snapshot, cur: Snapshot) -> dict | None:
    name, count_name = _first(source.names, cur.counters), _first(source.count, cur.counters)
    if name is None or count_name is None:
        return None
    count = _bounded(count_name, _raw_delta(count_name, prev, cur))
    if count is None:
        return None
    seconds = max(0.0, _raw_delta(name, prev, cur) * source.scale)
    # No finite bucket: the count and the sum give the mean, and nothing else.
    return {"bounds": [], "counts": [count], "sum": seconds if count else 0.0}


def lifetime_rate(source: LifetimeRate, prev: Snapshot, cur: Snapshot) -> int | None:
    rate_name, total_name = _first(source.names, cur.gauges), _first(source.total, cur.counters)
    if rate_name is None or total_name is None or not cur.gauges[rate_name]:
        return None
    if min(cur.gauges[rate_name].values()) < 0:
        return None  # vLLM V0 reports -1 while prefix caching is off: no cache to query
    queries = _raw_delta(total_name, prev, cur)
    if source.part == "queries":
        return _bounded(total_name, queries)
    rate = _clamp_rate(list(cur.gauges[rate_name].values()))
    total = sum(cur.counters[total_name].values())
    hits = rate * total
    old_total = sum(prev.counters.get(total_name, {}).values())
    if prev.gauges.get(rate_name) and old_total <= total:
        # A cache that was off at the last scrape had no hits then.
        hits -= _clamp_rate(list(prev.gauges[rate_name].values())) * old_total
    # The gauge and the counter are sampled a moment apart: keep hits within queries.
    return _bounded(rate_name, min(max(hits, 0.0), queries))


def _clamp_rate(values: list[float]) -> float:
    return min(max(sum(values) / len(values), 0.0), 1.0)


def sum_of_histograms(source: SumOfHistograms, prev: Snapshot, cur: Snapshot) -> dict | None:
    first = histogram_field(source.first, prev, cur)
    second = histogram_field(source.second, prev, cur)
    if first is None or second is None:
        return None
    return convolve(first, second)


def _points(hist: dict) -> list[tuple[float, float, float]]:
    """(lower, upper, count) per bucket; the +Inf bucket is placed at its mean when the
    sum allows, else at the last bound."""
    bounds, counts = hist["bounds"], hist["counts"]
    lowers = [0.0, *bounds]
    uppers = [*bounds, bounds[-1]]
    inside = sum(c * (lo + up) / 2 for lo, up, c in zip(lowers, uppers, counts, strict=True))
    over = counts[-1]
    past = bounds[-1]
    if over and hist.get("sum") is not None:
        past = max(past, (hist["sum"] - inside + over * bounds[-1]) / over)
    # Strictly past the last bound: observations over it stay in +Inf.
    uppers[-1] = lowers[-1] = max(past, math.nextafter(bounds[-1], math.inf))
    return [(lo, up, c) for lo, up, c in zip(lowers, uppers, counts, strict=True) if c]


def convolve(first: dict, second: dict) -> dict:
    """The histogram of a + b, a drawn from `first` and b from `second`, independent,
    on `first`'s buckets, with as many observations as `first` has."""
    bounds = first["bounds"]
    n_first, n_second = sum(first["counts"]), sum(second["counts"])
    out = [0.0] * (len(bounds) + 1)
    seconds = [(lo, up, c / n_second) for lo, up, c in _points(second)] if n_second else []
    if not seconds:
        seconds = [(0.0, 0.0, 1.0)]  # no second stage this interval: a + 0
    for lo, up, count in _points(first):
        for lo2, up2, p in seconds:
            _spread(out, bounds, lo + lo2, up + up2, count * p)
    mean_second = second["sum"] / n_second if n_second and second.get("sum") is not None else 0.0
    total = None if first.get("sum") is None else first["sum"] + n_first * mean_second
    return {"bounds": bounds, "counts": _whole(out, n_first), "sum": total}


def _spread(out: list[float], bounds: list[float], lo: float, up: float, weight: float) -> None:
    """Add `weight` spread evenly over [lo, up] to the buckets it overlaps."""
    if up <= lo:
        index = next((i for i, b in enumerate(bounds) if lo <= b), len(bounds))
        out[index] += weight
        return
    edges = [0.0, *bounds, math.inf]
    for index in range(len(out)):
        overlap = min(up, edges[index + 1]) - max(lo, edges[index])
        if overlap > 0:
            out[index] += weight * overlap / (up - lo)


def _whole(parts: list[float], total: int) -> list[int]:
    """Round to whole counts that still add up to `total` (largest remainder)."""
    floors = [math.floor(p) for p in parts]
    rest = total - sum(floors)
    order = sorted(range(len(parts)), key=lambda i: parts[i] - floors[i], reverse=True)
    for i in order[: max(rest, 0)]:
        floors[i] += 1
    return floors


def absent(source: Source, snap: Snapshot) -> tuple[str, ...] | None:
    """Metrics one part of `source` needs, none of which the page has (None: all there)."""
    if isinstance(source, FirstOf):
        gaps = [absent(option, snap) for option in source.options]
        return None if any(gap is None for gap in gaps) else source.names
    if isinstance(source, SumOfHistograms):
        return absent(source.first, snap) or absent(source.second, snap)
    groups: tuple[tuple[str, ...], ...] = (source.names,)
    if isinstance(source, CumulativeTime):
        groups = (source.names, source.count)
    elif isinstance(source, LifetimeRate):
        groups = (source.names, source.total)
    return next((g for g in groups if not any(snap.has(n) for n in g)), None)


def value(source: Source, prev: Snapshot, cur: Snapshot) -> Any:
    """The field's value over the interval from `prev` to `cur`; None: not available."""
    if isinstance(source, FirstOf):
        for option in source.options:
            found = value(option, prev, cur)
            if found is not None:
                return found
        return None
    if isinstance(source, Counter):
        return counter_delta(source, prev, cur)
    if isinstance(source, Gauge):
        return gauge(source, cur)
    if isinstance(source, Histogram):
        return histogram_field(source, prev, cur)
    if isinstance(source, HistogramSum):
        return histogram_sum(source, prev, cur)
    if isinstance(source, CumulativeTime):
        return cumulative_time(source, prev, cur)
    if isinstance(source, LifetimeRate):
        return lifetime_rate(source, prev, cur)
    return sum_of_histograms(source, prev, cur)
