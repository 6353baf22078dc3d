"""Turn an inference server's /metrics text into InferenceSample fields.

A scrape is a snapshot of cumulative counters; a sample is what happened
between two scrapes. Deltas are taken per series (label set) before summing,
so a restart of one engine (its counters back near zero) counts as a reset of
that series only, and never as a negative delta.
"""

import logging
import math
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from collectors.agent.servers import Counter, Gauge, Histogram, HistogramSum, ServerMap

logger = logging.getLogger(__name__)

LabelKey = tuple[tuple[str, str], ...]
# The ingest schema's bound on one interval's counter step (collectors/schema.py Delta).
MAX_DELTA = 2**40


@dataclass
class HistogramSeries:
    buckets: dict[float, float]  # upper bound (inf included) -> cumulative count
    total: float = 0.0  # the _sum


@dataclass
class Snapshot:
    counters: dict[str, dict[LabelKey, float]] = field(default_factory=dict)
    gauges: dict[str, list[float]] = field(default_factory=dict)
    histograms: dict[str, dict[LabelKey, HistogramSeries]] = field(default_factory=dict)

    def has(self, name: str) -> bool:
        return name in self.counters or name in self.gauges or name in self.histograms


def label_key(labels: Mapping[str, str], drop: str = "") -> LabelKey:
    return tuple(sorted((k, v) for k, v in labels.items() if k != drop))


_SUFFIXES = ("_bucket", "_count", "_sum", "_total", "_created")


def _base_name(name: str) -> str:
    for suffix in _SUFFIXES:
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def _line_name(line: str) -> str:
    """The sample name at the start of an exposition line."""
    return line[: min(i for i in (line.find("{"), line.find(" "), len(line)) if i >= 0)]


def _is_wanted(name: str, wanted: frozenset[str]) -> bool:
    return name in wanted or _base_name(name) in wanted


def relevant_lines(text: str, wanted: frozenset[str]) -> str:
    """Only the lines of the families in `wanted` (base names), for one-off parses."""
    kept = []
    for line in text.splitlines():
        if line.startswith("#"):
            parts = line.split(None, 3)
            name = parts[2] if len(parts) > 2 else ""
        else:
            name = _line_name(line)
        if _is_wanted(name, wanted):
            kept.append(line)
    return "\n".join(kept) + "\n"


# One parsed sample: (family name, family type, sample name, labels, value).
Sample = tuple[str, str, str, Mapping[str, str], float]


def _parsed_samples(text: str) -> Iterator[Sample]:
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            yield family.name, family.type, sample.name, sample.labels, float(sample.value)


class SeriesCache:
    """Parses a page with prometheus_client, but each series only once.

    A server's pages repeat the same series scrape after scrape; only the values
    change. prometheus_client's parser (pure Python; its label parsing is most
    of an agent's CPU) reads a series the first time it appears, together with
    its family's TYPE line; after that the series' line prefix is looked up and
    only the number after it is read.
    """

    def __init__(self) -> None:
        # prefix -> parsed series, or None for a series of a family nobody reads.
        self._series: dict[str, tuple[str, str, str, Mapping[str, str]] | None] = {}

    def samples(self, text: str, wanted: frozenset[str] | None = None) -> Iterator[Sample]:
        types: dict[str, str] = {}
        seen: dict[str, tuple[str, str, str, Mapping[str, str]] | None] = {}
        for line in text.splitlines():
            if not line or line.startswith("#"):
                parts = line.split(None, 3)
                if len(parts) == 4 and parts[1] == "TYPE":
                    types[parts[2]] = parts[3].strip()
                continue
            brace = line.rfind("}")
            cut = brace + 1 if brace >= 0 else line.find(" ")
            prefix = line[:cut]
            if prefix in self._series and self._series[prefix] is None:
                seen[prefix] = None  # a family nobody reads: skipped without parsing
                continue
            known = self._series.get(prefix)
            if known is not None and types.get(known[0], known[1]) != known[1]:
                known = None  # the family changed type: read the series afresh
            if known is None:
                if wanted is not None and not _is_wanted(_line_name(line), wanted):
                    seen[prefix] = None
                    continue
                known = self._learn(line, prefix, types)
                if known is None:
                    continue
            seen[prefix] = known
            rest = line[cut:].split()
            try:
                value = float(rest[0])
            except (IndexError, ValueError):
                continue
            yield (*known, value)
        # Only series on this page stay cached: label sets that come and go
        # (per-request ids, rotated models) do not pile up.
        self._series = seen

    def _learn(
        self, line: str, prefix: str, types: Mapping[str, str]
    ) -> tuple[str, str, str, Mapping[str, str]] | None:
        name = _line_name(line)
        family = next((f for f in (name, _base_name(name)) if f in types), "")
        head = f"# TYPE {family} {types[family]}\n" if family else ""
        try:
            parsed = list(_parsed_samples(head + line + "\n"))
        except ValueError:
            return None  # a malformed line: skipped, as the parser would refuse it
        if len(parsed) != 1:
            return None
        return parsed[0][:4]


def parse_snapshot(
    text: str,
    select: Mapping[str, str] | None = None,
    wanted: frozenset[str] | None = None,
    cache: SeriesCache | None = None,
) -> Snapshot:
    """Parse exposition text; with `select`, keep only series carrying those labels;
    with `wanted`, only those metric families."""
    if cache is not None:
        samples = cache.samples(text, wanted)
    else:
        samples = _parsed_samples(text if wanted is None else relevant_lines(text, wanted))
    snap = Snapshot()
    for family, kind, name, labels, value in samples:
        if select and any(labels.get(k) != v for k, v in select.items()):
            continue
        if not math.isfinite(value):
            continue
        if kind == "histogram":
            series = snap.histograms.setdefault(family, {})
            entry = series.setdefault(label_key(labels, "le"), HistogramSeries({}))
            if name.endswith("_bucket"):
                entry.buckets[float(labels["le"])] = value
            elif name.endswith("_sum"):
                entry.total = value
        elif kind == "counter":
            if name.endswith("_created"):
                continue
            snap.counters.setdefault(name.removesuffix("_total"), {})[label_key(labels)] = value
        elif kind in ("gauge", "unknown"):
            snap.gauges.setdefault(name, []).append(value)
            if kind == "unknown":
                # An untyped series may be a counter whose exporter left out TYPE.
                base = name.removesuffix("_total")
                snap.counters.setdefault(base, {})[label_key(labels)] = value
    return snap


def _first(names: tuple[str, ...], present: Mapping[str, Any]) -> str | None:
    return next((n for n in names if n in present), None)


def _counter_delta(source: Counter, prev: Snapshot, cur: Snapshot) -> int | None:
    name = _first(source.names, cur.counters)
    if name is None:
        return None
    before = prev.counters.get(name, {})
    total = 0.0
    for key, value in cur.counters[name].items():
        labels = dict(key)
        if any(labels.get(k) not in allowed for k, allowed in source.where.items()):
            continue
        old = before.get(key, 0.0)
        total += value - old if value >= old else value  # below the last value: a reset
    if total > MAX_DELTA:
        # Only a misread reset gets here (two replicas behind one URL): the
        # server refuses it, and one bad counter must not lose the whole batch.
        logger.warning("dropping an implausible %s step of %d", name, total)
        return None
    return round(total)


def _histogram_delta(
    name: str,
    prev: Snapshot,
    cur: Snapshot,
    where: Mapping[str, frozenset[str]] | None = None,
) -> tuple[list[float], list[float], float] | None:
    """(finite bounds, per-bucket deltas incl. +Inf, sum delta), summed over series."""
    before = prev.histograms.get(name, {})
    bounds: list[float] | None = None
    counts: list[float] = []
    total = 0.0
    for key, series in cur.histograms[name].items():
        if where:
            labels = dict(key)
            if any(labels.get(k) not in allowed for k, allowed in where.items()):
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


def _histogram_field(source: Histogram, prev: Snapshot, cur: Snapshot) -> dict | None:
    name = _first(source.names, cur.histograms)
    if name is None:
        return None
    delta = _histogram_delta(name, prev, cur)
    if delta is None or not delta[0]:
        return None
    bounds, counts, total = delta
    return {
        "bounds": bounds,
        "counts": [max(0, round(c)) for c in counts],
        "sum": max(0.0, total),
    }


def _histogram_sum(source: HistogramSum, prev: Snapshot, cur: Snapshot) -> float | None:
    name = _first(source.names, cur.histograms)
    if name is None:
        return None
    delta = _histogram_delta(name, prev, cur, source.where)
    if delta is None:
        return None
    return max(0.0, round(delta[2], 6)) if source.seconds else max(0, round(delta[2]))


def _gauge(source: Gauge, cur: Snapshot) -> float | None:
    name = _first(source.names, cur.gauges)
    if name is None or not cur.gauges[name]:
        return None
    values = cur.gauges[name]
    return sum(values) if source.aggregate == "sum" else sum(values) / len(values)


MAX_INTERVAL_S = 86400.0  # the ingest schema's longest interval


def _carry_forward(old: Snapshot, new: Snapshot) -> Snapshot:
    merged = Snapshot(gauges=new.gauges)
    for name in old.counters.keys() | new.counters.keys():
        merged.counters[name] = {**old.counters.get(name, {}), **new.counters.get(name, {})}
    for name in old.histograms.keys() | new.histograms.keys():
        merged.histograms[name] = {
            **old.histograms.get(name, {}),
            **new.histograms.get(name, {}),
        }
    return merged


class EndpointConverter:
    """Keeps the previous scrape of one endpoint and turns each new one into a sample."""

    def __init__(self, server: ServerMap, where: str, select: Mapping[str, str] | None = None):
        self.server = server
        self.where = where
        self.select = dict(select or {})
        self._previous: tuple[Snapshot, datetime] | None = None
        self._reported: set[str] = set()
        self._wanted = frozenset(n for s in server.fields.values() for n in s.names)
        self._cache = SeriesCache()

    def update(self, text: str, ts: datetime) -> dict[str, Any] | None:
        """The fields for the interval ending at `ts`; None for the first scrape."""
        return self.update_snapshot(
            parse_snapshot(text, self.select, self._wanted, self._cache), ts
        )

    def update_snapshot(self, current: Snapshot, ts: datetime) -> dict[str, Any] | None:
        previous = self._previous
        # The baseline keeps each series' last good value: a series missing from
        # one scrape is compared with that, not counted again from zero.
        self._previous = (_carry_forward(previous[0], current) if previous else current, ts)
        self._report_missing(current)
        if previous is None:
            return None
        interval = (ts - previous[1]).total_seconds()
        if interval <= 0:
            return None
        if interval > MAX_INTERVAL_S:
            self._previous = (current, ts)  # too long a gap to be one sample: start over
            return None
        sample: dict[str, Any] = {"ts": ts, "interval_s": interval}
        before = previous[0]
        for name, source in self.server.fields.items():
            value: Any
            if isinstance(source, Counter):
                value = _counter_delta(source, before, current)
            elif isinstance(source, Gauge):
                value = _gauge(source, current)
            elif isinstance(source, Histogram):
                value = _histogram_field(source, before, current)
            else:
                value = _histogram_sum(source, before, current)
            if value is not None:
                sample[name] = value
        return sample

    def _report_missing(self, snap: Snapshot) -> None:
        # Once per field: a server that lacks a metric lacks it every interval.
        for name, source in self.server.fields.items():
            if name in self._reported or any(snap.has(n) for n in source.names):
                continue
            self._reported.add(name)
            logger.warning(
                "%s (%s): exposes none of %s; %s will be empty",
                self.where,
                self.server.kind,
                ", ".join(source.names),
                name,
            )


def fetch(url: str, timeout: float = 5.0) -> str:
    """GET a /metrics page; raises OSError (URLError, timeouts) when it cannot."""
    request = urllib.request.Request(url, headers={"Accept": "text/plain"})
    with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
        return response.read().decode("utf-8", errors="replace")
