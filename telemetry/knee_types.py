"""The knee's workings as `CapacityEstimate.detail` stores them: p95 latency per
rate bin, each metric's target and fitted queueing curve. Written once by the
hourly job (telemetry/capacity.py), read by the knee chart and the API."""

from typing import Annotated

from msgspec import Meta, Struct, field

from inferscope.lib.stored import dump, load

# No rate, latency or fitted coefficient comes near this; beyond it a figure is corrupt
# (and a log axis or a division would make nonsense of it).
LARGEST = 1e12
Rate = Annotated[float, Meta(ge=0, lt=LARGEST)]
Seconds = Annotated[float, Meta(ge=0, lt=LARGEST)]
Coefficient = Annotated[float, Meta(gt=-LARGEST, lt=LARGEST)]
METRICS = ("ttft", "itl", "e2e")

__all__ = ["KneeBin", "KneeDetail", "MetricKnee", "QueueFit", "knee_json", "knee_of"]


class KneeBin(Struct, frozen=True):
    """Chunks of similar load pooled: their rate and each metric's p95 (None: no histogram)."""

    rps: Rate
    chunks: int = 0
    ttft: Seconds | None = None
    itl: Seconds | None = None
    e2e: Seconds | None = None

    def p95(self, metric: str) -> float | None:
        value: float | None = getattr(self, metric)
        return value


class QueueFit(Struct, frozen=True):
    """The queueing curve p95 = a + b * rate / (c - rate)."""

    a: Coefficient
    b: Coefficient
    c: Coefficient

    def at(self, rate: float) -> float:
        return self.a + self.b * rate / (self.c - rate)


class MetricKnee(Struct, frozen=True):
    target_s: Seconds | None = None
    rps: Rate | None = None  # where the p95 reaches the target; None when unattainable
    basis: str = ""
    fit: QueueFit | None = None


class KneeDetail(Struct, frozen=True):
    """Every field has a default: rows written before a field existed still load."""

    targets_s: dict[str, Seconds] = field(default_factory=dict)
    bins: list[KneeBin] = field(default_factory=list)
    per_metric: dict[str, MetricKnee] = field(default_factory=dict)
    busiest_rps: Rate = 0.0
    tokens_per_request: Annotated[float, Meta(ge=0)] | None = None


def knee_json(detail: object) -> object:
    """What the job stores, checked once (raises RecordError on a wrong shape)."""
    return dump(detail, KneeDetail, "detail")


def knee_of(detail: object, what: str = "capacity detail") -> KneeDetail | None:
    """The stored detail; None (logged) for a row that cannot be read."""
    return load(detail, KneeDetail, what)
