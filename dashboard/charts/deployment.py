"""A deployment's charts over time: traffic, latency percentiles, queue and KV cache, cost."""

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from dashboard.charts.lines import line_chart
from dashboard.charts.spend import spend_chart
from telemetry.deployment_figures import LATENCY_METRICS, DeploymentFigures


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else seconds * 1000


def _pct(fraction: float | None) -> float | None:
    return None if fraction is None else fraction * 100


def deployment_charts(
    times: Sequence[datetime],
    points: Sequence[DeploymentFigures],
    x_range: tuple[datetime, datetime],
) -> dict[str, str | None]:
    """Title -> chart div (None: nothing reported for it in the range)."""
    if not points:
        return {}

    def column(get: Callable[[DeploymentFigures], Any]) -> list[Any]:
        return [get(p) for p in points]

    def chart(name: str, traces: dict[str, list[Any]], unit: str, **kw: Any) -> str | None:
        return line_chart(name, times, traces, unit, x_range=x_range, **kw)

    charts = {
        "Requests": chart(
            "dep-requests",
            {
                "requests/s": column(lambda p: p.requests_per_s),
                "errors/s": column(lambda p: p.errors_per_s),
            },
            "per second",
        ),
        "Tokens": chart(
            "dep-tokens",
            {
                "prompt tokens/s": column(lambda p: p.prompt_per_s),
                "generated tokens/s": column(lambda p: p.generated_per_s),
            },
            "tokens per second",
        ),
    }
    for name, _, title in LATENCY_METRICS:
        latencies = [p.latencies[name] for p in points]
        traces = {
            label: [_ms(lat.percentiles[label]) for lat in latencies]
            for label in ("p50", "p95", "p99")
        }
        # The mean too: all a server that keeps only total time and a count gives.
        traces["mean"] = [_ms(lat.mean) for lat in latencies]
        charts[title] = chart(f"dep-{name}", traces, "ms", dashed=["mean"])
    charts["Queue"] = chart(
        "dep-queue",
        {
            "running (peak)": column(lambda p: p.running_max),
            "waiting (peak)": column(lambda p: p.waiting_max),
        },
        "requests",
    )
    batch = column(lambda p: p.mean_batch)
    if any(b is not None for b in batch):
        # Only servers that count executions (Triton): an empty card elsewhere is noise.
        charts["Batch size"] = chart("dep-batch", {"requests per execution": batch}, "requests")
    charts["KV cache"] = chart(
        "dep-kv", {"KV cache used %": column(lambda p: _pct(p.kv_cache))}, "%", y_range=(0, 100)
    )
    return charts


def deployment_cost_charts(
    name: str,
    times: Sequence[datetime],
    usd: Sequence[float],
    per_1m: Sequence[float | None],
    step_label: str,
    x_range: tuple[datetime, datetime],
) -> dict[str, str | None]:
    if not times:
        return {}
    return {
        "Cost": spend_chart("dep-cost", times, {name: list(usd)}, step_label, x_range),
        "$ per 1M tokens": line_chart(
            "dep-usd-per-1m", times, {"$ / 1M tokens": list(per_1m)}, "$", x_range=x_range
        ),
    }
