"""Turn an inference server's /metrics text into InferenceSample fields: the page
is parsed into a Snapshot, and two consecutive snapshots make one sample
(collectors/agent/fields.py computes each field)."""

import logging
import math
import urllib.request
from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from collectors.agent import fields
from collectors.agent.fields import HistogramSeries, Snapshot, label_key
from vocab.servers import ServerMap

__all__ = ["EndpointConverter", "HistogramSeries", "Snapshot", "fetch", "label_key"]

logger = logging.getLogger(__name__)

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
            snap.gauges.setdefault(name, {})[label_key(labels)] = value
            if kind == "unknown":
                # An untyped series may be a counter whose exporter left out TYPE.
                base = name.removesuffix("_total")
                snap.counters.setdefault(base, {})[label_key(labels)] = value
    return snap


# The ingest schema's bounds on gauges (Fraction, NonNegative).
_GAUGE_RANGES = {"kv_cache_usage": 1.0, "running": math.inf, "waiting": math.inf}
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
        self._out_of_range: set[str] = set()
        self._wanted = frozenset(n for s in server.fields.values() for n in s.reads)
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
        for name, source in self.server.fields.items():
            value = fields.value(source, previous[0], current)
            if value is not None:
                sample[name] = self._in_range(name, value)
        return {k: v for k, v in sample.items() if v is not None}

    def _in_range(self, name: str, value: Any) -> Any:
        top = _GAUGE_RANGES.get(name)
        if top is None:
            return value
        bounded = fields.within(value, top)
        if bounded is None and name not in self._out_of_range:
            self._out_of_range.add(name)  # said once: a bad gauge stays bad
            logger.warning("%s: %s of %s is out of range; left empty", self.where, name, value)
        return bounded

    def _report_mixed(self, snap: Snapshot) -> None:
        label = self.server.one_per
        if not label or label in self.select:
            return
        values = {dict(k).get(label) for series in snap.counters.values() for k in series}
        values.discard(None)
        if len(values) > 1:
            logger.warning(
                "%s (%s) serves %d models (%s): their figures are added up, and an ensemble"
                " counts each request once per model it passes through; give one per"
                " source with #%s=NAME",
                self.where,
                self.server.kind,
                len(values),
                ", ".join(sorted(str(v) for v in values)),
                label,
            )

    def _report_missing(self, snap: Snapshot) -> None:
        if not self._reported:
            self._report_mixed(snap)
            # What this kind of server never gives, and what is derived, said once
            # at the first scrape: a user reading the log knows why a field is empty.
            for name, why in self.server.missing.items():
                logger.info("%s (%s): no %s: %s", self.where, self.server.kind, name, why)
            for name, how in self.server.derived.items():
                logger.info("%s (%s): %s is %s", self.where, self.server.kind, name, how)
            self._reported.add("")
        # Once per field: a server that lacks a metric lacks it every interval.
        for name, source in self.server.fields.items():
            lacking = None if name in self._reported else fields.absent(source, snap)
            if lacking is None:
                continue
            self._reported.add(name)
            logger.warning(
                "%s (%s): exposes none of %s; %s will be empty",
                self.where,
                self.server.kind,
                ", ".join(lacking),
                name,
            )


def fetch(url: str, timeout: float = 5.0) -> str:
    """GET a /metrics page; raises OSError (URLError, timeouts) when it cannot."""
    request = urllib.request.Request(url, headers={"Accept": "text/plain"})
    with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
        return response.read().decode("utf-8", errors="replace")
