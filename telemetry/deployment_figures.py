"""One deployment's figures over a range or a step: rates, latency, batch size."""

from dataclasses import dataclass, field
from typing import Any

from telemetry.histograms import Histogram, quantile

QUANTILES = (0.5, 0.95, 0.99)
# (name, stored histogram, title): the latencies a deployment reports, as pages name them.
LATENCY_METRICS = (
    ("ttft", "ttft_hist", "Time to first token"),
    ("itl", "itl_hist", "Inter-token latency"),
    ("e2e", "e2e_hist", "End-to-end latency"),
    ("queue", "queue_hist", "Queue time"),
)


@dataclass(frozen=True)
class Latency:
    """One latency's percentiles and mean in seconds; None where nothing tells."""

    p50: float | None = None
    p95: float | None = None
    p99: float | None = None
    mean: float | None = None

    @property
    def percentiles(self) -> dict[str, float | None]:
        return {"p50": self.p50, "p95": self.p95, "p99": self.p99}


@dataclass
class DeploymentFigures:
    """One deployment over a range (or one step): rates, latency percentiles, error rate."""

    requests: float = 0
    errors: float = 0
    prompt_tokens: float = 0
    generation_tokens: float = 0
    present_s: float = 0
    running_max: float | None = None
    waiting_max: float | None = None
    kv_cache: float | None = None
    prefix_hits: float = 0
    prefix_queries: float = 0
    preemptions: float = 0
    batch_inferences: float = 0
    batch_executions: float = 0
    # Per histogram: each quantile, and "mean" (sum / count) where the sum is known.
    latency: dict[str, dict[float | str, float | None]] = field(default_factory=dict)

    @property
    def requests_per_s(self) -> float | None:
        return self.requests / self.present_s if self.present_s else None

    @property
    def tokens_per_s(self) -> float | None:
        tokens = self.prompt_tokens + self.generation_tokens
        return tokens / self.present_s if self.present_s else None

    @property
    def generated_per_s(self) -> float | None:
        return self.generation_tokens / self.present_s if self.present_s else None

    @property
    def prompt_per_s(self) -> float | None:
        return self.prompt_tokens / self.present_s if self.present_s else None

    @property
    def errors_per_s(self) -> float | None:
        return self.errors / self.present_s if self.present_s else None

    @property
    def error_rate(self) -> float | None:
        return self.errors / self.requests if self.requests else None

    @property
    def prefix_hit_rate(self) -> float | None:
        return self.prefix_hits / self.prefix_queries if self.prefix_queries else None

    @property
    def mean_batch(self) -> float | None:
        """Requests per execution (Triton's inferences over executions)."""
        return self.batch_inferences / self.batch_executions if self.batch_executions else None

    def p(self, hist: str, q: float) -> float | None:
        return self.latency.get(hist, {}).get(q)

    def mean(self, hist: str) -> float | None:
        return self.latency.get(hist, {}).get("mean")

    @property
    def latencies(self) -> dict[str, Latency]:
        """Each of LATENCY_METRICS by its name (ttft, itl, e2e, queue), for pages."""
        return {
            name: Latency(
                self.p(hist, 0.5), self.p(hist, 0.95), self.p(hist, 0.99), self.mean(hist)
            )
            for name, hist, _ in LATENCY_METRICS
        }


def figures_of(values: dict[str, Any], hists: dict[str, Histogram | None]) -> DeploymentFigures:
    figures = DeploymentFigures()
    for name, value in values.items():
        setattr(figures, name, value if _nullable(name) else (value or 0))
    figures.latency = {name: _latency(hist) for name, hist in hists.items()}
    return figures


def _latency(hist: Histogram | None) -> dict[float | str, float | None]:
    out: dict[float | str, float | None] = {q: quantile(hist, q) for q in QUANTILES}
    count = sum(hist["counts"]) if hist else 0
    out["mean"] = hist["sum"] / count if hist and count and hist.get("sum") is not None else None
    return out


def _nullable(name: str) -> bool:
    return name in ("running_max", "waiting_max", "kv_cache")
