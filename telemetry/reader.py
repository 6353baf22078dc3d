"""The one reader of inference rollup rows: per deployment and bucket, at one
resolution, over [start, end), with the latency histograms decoded.

Every module outside telemetry that needs a rollup's counters or histograms
(anomaly series and features, phase dollars and goodput, alert windows) reads
them here, so histograms are decoded, merged and turned into percentiles in one
place. Rows are read with a raw cursor and msgspec: decoding histograms through
the ORM's JSONField was most of the cost of every caller.
"""

import functools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.db import connection

from inferscope.lib.sql import epoch, fetch_all, from_json, param, placeholders
from telemetry.columns import INFERENCE_HISTOGRAMS, INFERENCE_MAXES, INFERENCE_SUMS
from telemetry.histograms import Histogram, fraction_at_most, merge, quantile
from telemetry.models import InferenceRollup

__all__ = [
    "InferenceBucket",
    "combine",
    "inference_buckets",
    "inference_merged",
]


@dataclass(frozen=True, slots=True)
class InferenceBucket:
    """One deployment's rollup over one bucket, or several buckets added together
    (counters summed, maxima kept, histograms merged). Holds only the columns the
    caller asked for; `bucket` is the (first) bucket's start, UTC."""

    deployment_id: int
    bucket: datetime
    values: dict[str, Any]  # counters (INFERENCE_SUMS) and maxima (INFERENCE_MAXES)
    hists: dict[str, Histogram | None]  # INFERENCE_HISTOGRAMS, decoded

    def __getitem__(self, name: str) -> Any:
        return self.hists[name] if name in self.hists else self.values[name]

    @property
    def requests(self) -> int:
        """Finished requests, whatever their outcome."""
        v = self.values
        return v["requests_ok"] + v["requests_error"] + v["requests_aborted"]

    def p(self, hist: str, q: float) -> float | None:
        """The q-quantile of a latency histogram, interpolated as the deployment
        figures' p50/p95/p99 are (telemetry.histograms.quantile)."""
        return quantile(self.hists[hist], q)

    def share_within(self, hist: str, seconds: float) -> float | None:
        """The share of a histogram's observations at or under `seconds`."""
        return fraction_at_most(self.hists[hist], seconds)

    def observations(self, hist: str) -> int:
        found = self.hists[hist]
        return sum(found["counts"]) if found else 0


def inference_buckets(
    resolution: int,
    start: datetime,
    end: datetime,
    deployment_ids: Sequence[int] | None = None,
    *,
    columns: Sequence[str] = (),
    histograms: Sequence[str] = (),
) -> list[InferenceBucket]:
    """Every stored bucket of `resolution` starting in [start, end), ordered by
    deployment and bucket; `deployment_ids` None reads every deployment."""
    _check(columns, histograms)
    text = "::text" if connection.vendor == "postgresql" else ""
    selected = [*columns, *(f"{h}{text}" for h in histograms)]
    sql = (
        f"SELECT deployment_id, {epoch('bucket')}"
        + "".join(f", {c}" for c in selected)
        + f" FROM {InferenceRollup._meta.db_table}"
        " WHERE resolution = %s AND bucket >= %s AND bucket < %s"
    )
    args: list[Any] = [int(resolution), param(start), param(end)]
    if deployment_ids is not None:
        ids = list(deployment_ids)
        if not ids:
            return []
        sql += f" AND deployment_id IN ({placeholders(len(ids))})"
        args += ids
    fetched = fetch_all(sql + " ORDER BY deployment_id, bucket", args)
    width = 2 + len(columns)
    return [
        InferenceBucket(
            row[0],
            _at(row[1]),
            dict(zip(columns, row[2:width], strict=True)),
            {h: from_json(v) for h, v in zip(histograms, row[width:], strict=True)},
        )
        for row in fetched
    ]


def inference_merged(
    resolution: int,
    start: datetime,
    end: datetime,
    step: int,
    deployment_ids: Sequence[int] | None = None,
    *,
    columns: Sequence[str] = (),
    histograms: Sequence[str] = (),
) -> dict[int, dict[datetime, InferenceBucket]]:
    """{deployment id: {step start: its buckets in that step added together}}; step is
    in seconds from the epoch, 0 for the whole window (keyed by `start`)."""
    groups: dict[int, dict[datetime, list[InferenceBucket]]] = {}
    for row in inference_buckets(
        resolution, start, end, deployment_ids, columns=columns, histograms=histograms
    ):
        at = _floor(row.bucket, step) if step else start
        groups.setdefault(row.deployment_id, {}).setdefault(at, []).append(row)
    return {
        dep: {at: combine(rows, at) for at, rows in steps.items()} for dep, steps in groups.items()
    }


def combine(rows: Sequence[InferenceBucket], at: datetime) -> InferenceBucket:
    """Buckets of one deployment added together, exactly as a coarser rollup would:
    counters summed, maxima kept, histograms merged bucket by bucket."""
    first = rows[0]
    values: dict[str, Any] = {}
    for name in first.values:
        present = [r.values[name] for r in rows if r.values[name] is not None]
        if name in INFERENCE_MAXES:
            values[name] = max(present) if present else None
        else:
            values[name] = sum(present)
    hists = {name: merge(r.hists[name] for r in rows) for name in first.hists}
    return InferenceBucket(first.deployment_id, at, values, hists)


def _check(columns: Iterable[str], histograms: Iterable[str]) -> None:
    # The names go into SQL: only known columns may.
    unknown = [c for c in columns if c not in INFERENCE_SUMS and c not in INFERENCE_MAXES]
    unknown += [h for h in histograms if h not in INFERENCE_HISTOGRAMS]
    if unknown:
        raise ValueError(f"not an inference rollup counter or histogram: {', '.join(unknown)}")


@functools.lru_cache(maxsize=100_000)
def _at(seconds: float) -> datetime:
    # Buckets come back as epoch seconds: parsing one timestamp per row was the
    # largest cost of the per-minute readers.
    return datetime.fromtimestamp(round(seconds), tz=UTC)


def _floor(ts: datetime, step: int) -> datetime:
    seconds = int(ts.timestamp())
    return datetime.fromtimestamp(seconds - seconds % step, UTC)
