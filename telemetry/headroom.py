"""A deployment's knee: the request rate it carries while meeting its SLO.

From live data only. The window's minutes are grouped into 5-minute chunks;
chunks are sorted by request rate and pooled into bins of equal size, and each
bin's latency histograms are merged, so every bin has a p95 for TTFT, inter-
token and end-to-end latency at a known rate. Then, for each metric with a
target:

- where the p95 crossed the target inside the observed range (after making it
  non-decreasing in rate: isotonic regression), the crossing is interpolated
  between the bins around it (basis ``observed``);
- where it never did, the bins are fitted with a queueing curve,
  p95 = a + b * rate / (C - rate), the shape of waiting time as a server nears
  saturation C, and the curve is solved for the target (basis ``extrapolated``).
  Beyond twice the busiest rate seen the answer is a guess, and it says so
  (basis ``insufficient``, with the busiest rate as a lower bound);
- where even the lightest load missed it, no rate meets the SLO (basis
  ``unattainable``, no capacity): adding replicas would not help.

The capacity is the smallest of the metrics' rates. Replicas needed = the
current (or peak) rate / capacity, rounded up.
"""

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from telemetry import histograms

OBSERVED, EXTRAPOLATED, INSUFFICIENT, UNATTAINABLE, NO_TRAFFIC = (
    "observed",
    "extrapolated",
    "insufficient",
    "unattainable",
    "no_traffic",
)
CHUNK_S = 300
MIN_CHUNKS = 18  # 90 minutes of 5-minute chunks: three bins of six, the fewest to fit
MAX_BINS = 16
MAX_EXTRAPOLATION = 2.0  # beyond this x the busiest rate, the estimate is only a bound
QUANTILE = 0.95
# Latency that grew by less than this across the load seen shows no knee to extrapolate to.
MIN_RISE = 0.1


@dataclass(frozen=True)
class Chunk:
    """Traffic over a few minutes: finished requests, seconds reported, histograms."""

    requests: int
    seconds: float
    tokens: int
    hists: dict[str, histograms.Histogram | None]

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


@dataclass(frozen=True)
class Bin:
    rate: float
    chunks: int
    p95: dict[str, float | None]

    def as_json(self) -> dict[str, Any]:
        return {"rps": round(self.rate, 6), "chunks": self.chunks, **self.p95}


@dataclass
class Knee:
    capacity_rps: float | None
    basis: str
    binding: str = ""  # the metric that limits it
    per_metric: dict[str, dict[str, Any]] = field(default_factory=dict)
    bins: list[Bin] = field(default_factory=list)
    busiest_rps: float = 0.0
    tokens_per_request: float | None = None

    @property
    def capacity_tokens_s(self) -> float | None:
        if self.capacity_rps is None or self.tokens_per_request is None:
            return None
        return self.capacity_rps * self.tokens_per_request


def estimate(chunks: Sequence[Chunk], targets: dict[str, float]) -> Knee:
    """The knee from chunks of traffic; `targets` maps a metric (the key of each
    chunk's hists) to its p95 target in seconds."""
    busy = [c for c in chunks if c.requests > 0 and c.seconds > 0]
    if not busy:
        return Knee(None, NO_TRAFFIC)
    requests = sum(c.requests for c in busy)
    tokens_per_request = sum(c.tokens for c in busy) / requests if requests else None
    bins = make_bins(busy)
    busiest = max(b.rate for b in bins)
    knee = Knee(None, INSUFFICIENT, bins=bins, busiest_rps=busiest)
    knee.tokens_per_request = tokens_per_request
    if len(busy) < MIN_CHUNKS:
        knee.capacity_rps = busiest
        return knee
    best: tuple[float, str, str] | None = None
    unattainable = ""
    for metric, target in targets.items():
        points = [(b.rate, p95, b.chunks) for b in bins if (p95 := b.p95.get(metric)) is not None]
        if len(points) < 3:
            continue
        rate, basis, detail = metric_capacity(points, target)
        knee.per_metric[metric] = {"target_s": target, "rps": rate, "basis": basis, **detail}
        if basis == UNATTAINABLE:
            unattainable = unattainable or metric
        # A metric far from its target only bounds the capacity from below.
        if rate is not None and basis != INSUFFICIENT and (best is None or rate < best[0]):
            best = (rate, basis, metric)
    if unattainable:
        # One target is missed at every load seen: there is no rate within the SLO.
        knee.basis, knee.binding = UNATTAINABLE, unattainable
        return knee
    if best is None:
        knee.capacity_rps = busiest
        return knee
    knee.capacity_rps, knee.basis, knee.binding = best
    return knee


def make_bins(chunks: Sequence[Chunk]) -> list[Bin]:
    ordered = sorted(chunks, key=lambda c: c.rate)
    count = max(1, min(MAX_BINS, len(ordered) // 6))
    size = len(ordered) / count
    bins = []
    for i in range(count):
        part = ordered[round(i * size) : round((i + 1) * size)]
        if not part:
            continue
        seconds = sum(c.seconds for c in part)
        metrics = {m for c in part for m in c.hists}
        p95 = {
            m: histograms.quantile(
                histograms.merge(c.hists.get(m) for c in part), QUANTILE, log=True
            )
            for m in sorted(metrics)
        }
        bins.append(Bin(sum(c.requests for c in part) / seconds, len(part), p95))
    return bins


def metric_capacity(
    points: Sequence[tuple[float, float, int]], target: float
) -> tuple[float | None, str, dict[str, Any]]:
    """(rate at which the p95 reaches `target`, basis, details) from (rate, p95, weight)."""
    rates = [p[0] for p in points]
    p95 = isotonic([p[1] for p in points], [p[2] for p in points])
    fit = fit_queueing(rates, p95)
    detail: dict[str, Any] = {"fit": None}
    if fit is not None:
        a, b, c = fit
        detail["fit"] = {"a": a, "b": b, "c": c}
    busiest = rates[-1]
    over = next((i for i, value in enumerate(p95) if value > target), None)
    if over is not None:
        if over == 0:
            # Missed even at the lightest load seen: no rate meets it, and more
            # replicas would not help (a target under the unloaded latency).
            return None, UNATTAINABLE, detail
        lo, hi = over - 1, over
        solved = _solve(fit, target)
        if solved is not None and rates[lo] <= solved <= rates[hi]:
            return solved, OBSERVED, detail
        share = (target - p95[lo]) / (p95[hi] - p95[lo]) if p95[hi] > p95[lo] else 0.0
        return rates[lo] + share * (rates[hi] - rates[lo]), OBSERVED, detail
    solved = _solve(fit, target)
    if (
        solved is None
        or solved > busiest * MAX_EXTRAPOLATION
        or _rise(fit, rates[0], busiest) < MIN_RISE
    ):
        return busiest, INSUFFICIENT, detail
    return max(solved, busiest), EXTRAPOLATED, detail


def _rise(fit: tuple[float, float, float] | None, lightest: float, busiest: float) -> float:
    """How much the fitted p95 grew across the rates seen, relative to its start."""
    if fit is None:
        return 0.0
    a, b, c = fit
    low, high = a + b * lightest / (c - lightest), a + b * busiest / (c - busiest)
    return (high - low) / low if low > 0 else 0.0


def _solve(fit: tuple[float, float, float] | None, target: float) -> float | None:
    if fit is None:
        return None
    a, b, c = fit
    if b <= 0 or target <= a:
        return None
    return c * (target - a) / (target - a + b)


def isotonic(values: Sequence[float], weights: Sequence[float]) -> list[float]:
    """The closest non-decreasing sequence (pool adjacent violators)."""
    blocks: list[list[float]] = []  # [mean, weight, length]
    for value, weight in zip(values, weights, strict=True):
        blocks.append([value, float(weight), 1])
        while len(blocks) > 1 and blocks[-2][0] > blocks[-1][0]:
            m2, w2, n2 = blocks.pop()
            m1, w1, n1 = blocks.pop()
            w = w1 + w2
            blocks.append([(m1 * w1 + m2 * w2) / w, w, n1 + n2])
    out: list[float] = []
    for mean, _, length in blocks:
        out.extend([mean] * int(length))
    return out


def fit_queueing(rates: Sequence[float], p95: Sequence[float]) -> tuple[float, float, float] | None:
    """Least squares (relative error) of p95 = a + b * rate / (C - rate), a, b >= 0,
    over a log-spaced grid of saturation rates C above the busiest rate seen."""
    if len(rates) < 3 or min(p95) <= 0:
        return None
    busiest = max(rates)
    best: tuple[float, tuple[float, float, float]] | None = None
    steps = 240
    for i in range(steps):
        c = busiest * (1.01 + (60.0 - 1.01) * (math.exp(i / steps * math.log(60)) - 1) / 59)
        xs = [r / (c - r) for r in rates]
        fit = _line(xs, p95)
        if fit is None:
            continue
        a, b = fit
        error = sum(((a + b * x - y) / y) ** 2 for x, y in zip(xs, p95, strict=True))
        if best is None or error < best[0]:
            best = (error, (a, b, c))
    return best[1] if best else None


def _line(xs: Sequence[float], ys: Sequence[float]) -> tuple[float, float] | None:
    """y = a + b x by least squares, weighted 1/y^2 (relative error), with a, b >= 0."""
    w = [1 / (y * y) for y in ys]
    sw = sum(w)
    sx = sum(wi * x for wi, x in zip(w, xs, strict=True))
    sy = sum(wi * y for wi, y in zip(w, ys, strict=True))
    sxx = sum(wi * x * x for wi, x in zip(w, xs, strict=True))
    sxy = sum(wi * x * y for wi, x, y in zip(w, xs, ys, strict=True))
    det = sw * sxx - sx * sx
    if det <= 0:
        return None
    b = (sw * sxy - sx * sy) / det
    a = (sy - b * sx) / sw
    if b < 0:
        return sy / sw, 0.0
    if a < 0:
        # Through the origin: b = sum(w x y) / sum(w x x).
        return 0.0, sxy / sxx if sxx else 0.0
    return a, b
