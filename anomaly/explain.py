"""The one sentence a person reads: what, where, how far off, and what else was going on."""

from datetime import timedelta

from anomaly.detectors import Result
from anomaly.series import Metric
from collectors.models import Deployment, Gpu, Node
from telemetry.choices import Resolution
from telemetry.reader import inference_buckets


def _entity(entity: str) -> str:
    kind, _, pk = entity.partition(":")
    if kind == "gpu":
        gpu = Gpu.objects.select_related("node").filter(pk=pk).first()
        return f"GPU {gpu}" if gpu else entity
    if kind == "deployment":
        dep = Deployment.objects.select_related("node").filter(pk=pk).first()
        return f"deployment {dep}" if dep else entity
    if kind == "node":
        node = Node.objects.filter(pk=pk).first()
        return f"node {node}" if node else entity
    return "the fleet"


def _context(metric: Metric, entity: str, result: Result) -> str:
    """Load and cache pressure beside a latency anomaly: they tell queueing from slowness."""
    kind, _, pk = entity.partition(":")
    if kind != "deployment" or metric.name not in ("deployment.ttft_p95", "deployment.e2e_p95"):
        return ""
    rows = inference_buckets(
        Resolution.MINUTE,
        result.ts,
        result.ts + timedelta(seconds=Resolution.MINUTE),
        [int(pk)],
        columns=("running_max", "waiting_max", "kv_cache_sum", "kv_cache_n"),
    )
    if not rows:
        return ""
    row = rows[0]
    parts = []
    if row["running_max"] is not None:
        parts.append(f"running requests up to {row['running_max']:g}")
    if row["waiting_max"]:
        parts.append(f"{row['waiting_max']:g} waiting")
    if row["kv_cache_n"]:
        parts.append(f"KV-cache usage {row['kv_cache_sum'] / row['kv_cache_n']:.0%}")
    return "; " + ", ".join(parts) if parts else ""


def sentence(metric: Metric, entity: str, result: Result) -> str:
    detail = result.explanation or "outside its expected range"
    return f"{metric.label} of {_entity(entity)}: {detail}{_context(metric, entity, result)}"
