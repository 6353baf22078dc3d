"""Offline scoring of a `timestamp,value` CSV through a registered detector (`anomaly_score`)."""

import csv
from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Protocol, TextIO

from anomaly.detectors import Point, Result, build

OUTPUT_HEADER = [
    "timestamp",
    "value",
    "score",
    "is_anomaly",
    "kind",
    "expected_low",
    "expected_high",
]


class Writable(Protocol):
    def write(self, text: str, /) -> object: ...


class InputError(ValueError):
    """The CSV cannot be scored; the message names the line."""


def _timestamp(text: str, line: int) -> datetime:
    text = text.strip()
    try:
        return datetime.fromtimestamp(float(text), tz=UTC)
    except (ValueError, OverflowError, OSError):
        pass
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise InputError(f"line {line}: {text!r} is not an ISO timestamp or unix seconds") from None
    # A timestamp without an offset is read as UTC, like the rest of Inferscope.
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _value(text: str, line: int) -> float | None:
    text = text.strip()
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        raise InputError(f"line {line}: {text!r} is not a number") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise InputError(f"line {line}: {text!r} is not a finite number")
    return value


MAX_SPAN = timedelta(days=5 * 366)


def read_points(stream: TextIO) -> list[Point]:
    """Points of a `timestamp,value` CSV, sorted by time; empty value = missing."""
    reader = csv.reader(stream)
    header = next(reader, None)
    if header is None or [h.strip().lower() for h in header[:2]] != ["timestamp", "value"]:
        raise InputError("line 1: the header must be timestamp,value")
    points = []
    for row in reader:
        line = reader.line_num
        if not row or not "".join(row).strip():
            continue
        if len(row) != 2:
            raise InputError(f"line {line}: expected 2 columns, found {len(row)}")
        points.append(Point(_timestamp(row[0], line), _value(row[1], line)))
    # Stable sort: duplicates keep their file order, as if they arrived that way.
    points.sort(key=lambda p: p.ts)
    # The seasonal profile keeps a slot per hour of the span: a stray year-1
    # timestamp would ask for gigabytes, so a span past this is refused.
    if points and points[-1].ts - points[0].ts > MAX_SPAN:
        first, last = points[0].ts.date(), points[-1].ts.date()
        raise InputError(f"the series runs from {first} to {last}; score at most 5 years at once")
    return points


def _number(value: float | None) -> str:
    return "" if value is None else f"{value:.6g}"


def output_rows(results: Iterable[Result]) -> Iterator[list[str]]:
    for r in results:
        yield [
            r.ts.isoformat(),
            _number(r.value),
            f"{r.score:.4f}",
            "1" if r.is_anomaly else "0",
            r.kind,
            _number(r.expected_low),
            _number(r.expected_high),
        ]


def score_csv(
    source: TextIO,
    out: Writable,
    detector: str,
    sensitivity: float,
    config: Mapping[str, float] | None = None,
) -> int:
    """Score `source` in time order and write one row per point to `out`; returns the anomalies."""
    points = read_points(source)
    options = {"name": detector, "sensitivity": sensitivity, **(config or {})}
    results = build(options).detect_batch(points)
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(OUTPUT_HEADER)
    writer.writerows(output_rows(results))
    return sum(r.is_anomaly for r in results)
