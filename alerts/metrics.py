"""The figures a threshold rule can watch, each read fresh from the database.

GPU and serving metrics read the raw samples of the last METRIC_WINDOW_SECONDS,
so a breach is seen on the first evaluation after its sample is stored, not
after a rollup. Cost metrics read the last complete hour of cost records.
"""

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Avg, Max

from alerts.constants import METRIC_WINDOW_SECONDS
from anomaly.series import cost_series
from collectors.models import GpuSample, InferenceSample
from telemetry.histograms import quantile_of

Values = dict[str, float]  # entity key -> value


@dataclass(frozen=True)
class Metric:
    name: str
    label: str
    unit: str
    entity: str  # "gpu", "deployment" or "fleet"
    read: Callable[[datetime], Values]


def _gpu_average(field: str) -> Callable[[datetime], Values]:
    def read(now: datetime) -> Values:
        rows = (
            GpuSample.objects.filter(
                ts__gt=now - timedelta(seconds=METRIC_WINDOW_SECONDS),
                ts__lte=now,
                **{f"{field}__isnull": False},
            )
            .values("gpu_id")
            .annotate(value=Avg(field))
        )
        return {f"gpu:{r['gpu_id']}": float(r["value"]) for r in rows}

    return read


def _gpu_memory(now: datetime) -> Values:
    rows = (
        GpuSample.objects.filter(
            ts__gt=now - timedelta(seconds=METRIC_WINDOW_SECONDS),
            ts__lte=now,
            mem_used_bytes__isnull=False,
            mem_total_bytes__gt=0,
        )
        .values("gpu_id")
        .annotate(used=Max("mem_used_bytes"), total=Max("mem_total_bytes"))
    )
    return {f"gpu:{r['gpu_id']}": 100.0 * r["used"] / r["total"] for r in rows}


def _serving(now: datetime) -> dict[int, list[InferenceSample]]:
    by_deployment: dict[int, list[InferenceSample]] = defaultdict(list)
    samples = InferenceSample.objects.filter(
        ts__gt=now - timedelta(seconds=METRIC_WINDOW_SECONDS), ts__lte=now
    ).only(
        "deployment_id",
        "interval_s",
        "requests_ok",
        "requests_error",
        "requests_aborted",
        "generation_tokens",
        "waiting",
        "kv_cache_usage",
        "ttft_hist",
        "e2e_hist",
    )
    for sample in samples:
        by_deployment[sample.deployment_id].append(sample)
    return by_deployment


def _serving_metric(
    compute: Callable[[list[InferenceSample]], float | None],
) -> Callable[[datetime], Values]:
    def read(now: datetime) -> Values:
        out = {}
        for deployment_id, samples in _serving(now).items():
            value = compute(samples)
            if value is not None:
                out[f"deployment:{deployment_id}"] = value
        return out

    return read


def _p95(field: str) -> Callable[[list[InferenceSample]], float | None]:
    return lambda samples: quantile_of((getattr(s, field) for s in samples), 0.95)


def _error_rate(samples: list[InferenceSample]) -> float | None:
    errors = sum(s.requests_error for s in samples)
    finished = errors + sum(s.requests_ok + s.requests_aborted for s in samples)
    return 100.0 * errors / finished if finished else None


def _tokens_per_s(samples: list[InferenceSample]) -> float | None:
    seconds = sum(s.interval_s for s in samples)
    return sum(s.generation_tokens for s in samples) / seconds if seconds else None


def _most(field: str, factor: float = 1.0) -> Callable[[list[InferenceSample]], float | None]:
    def compute(samples: list[InferenceSample]) -> float | None:
        values = [getattr(s, field) for s in samples if getattr(s, field) is not None]
        return max(values) * factor if values else None

    return compute


def _cost(metric: str) -> Callable[[datetime], Values]:
    """The last complete hour's figure: the current hour is still being costed."""

    def read(now: datetime) -> Values:
        hour = now.replace(minute=0, second=0, microsecond=0) - timedelta(hours=1)
        only = "fleet" if metric.startswith("fleet.") else None
        series = cost_series(hour, hour + timedelta(hours=1), only)
        return {
            entity: points[-1].value
            for (name, entity), points in series.items()
            if name == metric and points and points[-1].value is not None
        }

    return read


METRICS: dict[str, Metric] = {
    m.name: m
    for m in (
        Metric("gpu.util", "GPU utilization", "%", "gpu", _gpu_average("util_gpu")),
        Metric("gpu.power", "power", "W", "gpu", _gpu_average("power_w")),
        Metric("gpu.temperature", "temperature", "°C", "gpu", _gpu_average("temp_c")),
        Metric("gpu.memory_used", "memory used", "%", "gpu", _gpu_memory),
        Metric(
            "deployment.ttft_p95", "p95 TTFT", "s", "deployment", _serving_metric(_p95("ttft_hist"))
        ),
        Metric(
            "deployment.e2e_p95",
            "p95 end-to-end latency",
            "s",
            "deployment",
            _serving_metric(_p95("e2e_hist")),
        ),
        Metric(
            "deployment.error_rate", "error rate", "%", "deployment", _serving_metric(_error_rate)
        ),
        Metric(
            "deployment.tokens_per_s",
            "generated tokens/s",
            "tok/s",
            "deployment",
            _serving_metric(_tokens_per_s),
        ),
        Metric(
            "deployment.waiting",
            "waiting requests",
            "",
            "deployment",
            _serving_metric(_most("waiting")),
        ),
        Metric(
            "deployment.kv_cache_usage",
            "KV-cache usage",
            "%",
            "deployment",
            _serving_metric(_most("kv_cache_usage", 100.0)),
        ),
        Metric(
            "deployment.cost_per_hour",
            "cost in the last hour",
            "$",
            "deployment",
            _cost("deployment.cost_per_hour"),
        ),
        Metric(
            "deployment.cost_per_1m_tokens",
            "cost per 1M tokens in the last hour",
            "$",
            "deployment",
            _cost("deployment.cost_per_1m_tokens"),
        ),
        Metric(
            "fleet.cost_per_hour",
            "fleet spend in the last hour",
            "$",
            "fleet",
            _cost("fleet.cost_per_hour"),
        ),
    )
}
