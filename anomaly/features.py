"""Per-minute feature vectors for the multivariate detector, read from minute rollups.

A GPU row joins the GPU's own readings with the throughput of the deployments
on it, so "high power with low throughput" is one point far from the rest. A
deployment row joins its serving metrics with the load of its GPUs. Rows are
grouped for training: GPUs by canonical model ("gpu-model:H100 SXM"), each
deployment on its own ("deployment:12").

A minute without a core value (no GPU reading; no deployment rollup; no reading
of any of a deployment's GPUs) is skipped rather than filled: a made-up value
would itself look anomalous. Gaps are the seasonal detector's "missing data".
Values that are undefined in a quiet minute (latency with no finished request,
error rate, KV-cache) are 0, which is what training saw in quiet minutes too.
"""

import functools
from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import NamedTuple

import numpy as np
from django.db import connection

from anomaly.detectors.isolation import FeatureLabel
from anomaly.series import ratio
from collectors.models import Deployment, Gpu
from costs.gpu_models import canonical_model
from inferscope.lib.sql import epoch, param
from telemetry.choices import Resolution
from telemetry.models import GpuRollup
from telemetry.reader import inference_buckets

__all__ = [
    "DEPLOYMENT_FEATURES",
    "FEATURE_LABELS",
    "GPU_FEATURES",
    "FeatureRow",
    "feature_rows",
    "gpu_group",
    "matrix",
]

GPU_FEATURES = ("util", "power", "memory", "temperature", "throttled", "tokens_per_s")
DEPLOYMENT_FEATURES = (
    "tokens_per_s",
    "requests_per_s",
    "ttft_p95",
    "e2e_p95",
    "running",
    "waiting",
    "kv_cache",
    "error_rate",
    "gpu_util",
    "gpu_power",
)
FEATURE_LABELS = {
    "util": FeatureLabel("GPU utilization", "%"),
    "power": FeatureLabel("power", "W"),
    "memory": FeatureLabel("memory used", "%", 100),
    "temperature": FeatureLabel("temperature", "°C"),
    "throttled": FeatureLabel("time throttled", "%", 100),
    "tokens_per_s": FeatureLabel("generated tokens/s", ""),
    "requests_per_s": FeatureLabel("requests/s", ""),
    "ttft_p95": FeatureLabel("p95 TTFT", "s"),
    "e2e_p95": FeatureLabel("p95 end-to-end latency", "s"),
    "running": FeatureLabel("running requests", ""),
    "waiting": FeatureLabel("waiting requests", ""),
    "kv_cache": FeatureLabel("KV-cache usage", "%", 100),
    "error_rate": FeatureLabel("error rate", "%", 100),
    "gpu_util": FeatureLabel("GPU utilization", "%"),
    "gpu_power": FeatureLabel("power per GPU", "W"),
}


class FeatureRow(NamedTuple):
    group: str  # the model that scores it: "gpu-model:<canonical>" or "deployment:<id>"
    entity: str  # "gpu:<id>" or "deployment:<id>"
    ts: datetime  # the minute's start
    vector: tuple[float, ...]  # in GPU_FEATURES or DEPLOYMENT_FEATURES order, never NaN


def gpu_group(model_name: str) -> str:
    return f"gpu-model:{canonical_model(model_name) or model_name or 'unknown'}"


def matrix(rows: Sequence[FeatureRow]) -> np.ndarray:
    return np.array([row.vector for row in rows], dtype=np.float64).reshape(len(rows), -1)


def feature_rows(start: datetime, end: datetime) -> list[FeatureRow]:
    """GPU and deployment rows of every minute in [start, end), in four queries."""
    gpus = {
        pk: (gpu_group(name), memory)
        for pk, name, memory in Gpu.objects.values_list("pk", "model_name", "memory_total_bytes")
    }
    deployment_gpus: dict[int, list[int]] = defaultdict(list)
    for dep_id, gpu_id in Deployment.gpus.through.objects.values_list("deployment_id", "gpu_id"):
        deployment_gpus[dep_id].append(gpu_id)
    gpu_deployments: dict[int, list[int]] = defaultdict(list)
    for dep_id, gpu_ids in deployment_gpus.items():
        for gpu_id in gpu_ids:
            gpu_deployments[gpu_id].append(dep_id)

    serving = _serving(start, end)
    # A deployment spread over n GPUs (tensor parallel) is credited 1/n of its
    # tokens on each, so one GPU-model group can mix parallelism sizes.
    tokens_on_gpu: dict[tuple[int, datetime], float] = defaultdict(float)
    for (dep_id, ts), values in serving.items():
        for gpu_id in deployment_gpus.get(dep_id, ()):
            tokens_on_gpu[(gpu_id, ts)] += values[0] / len(deployment_gpus[dep_id])
    # Per (deployment, minute): util sum, power sum, GPUs seen.
    load: dict[tuple[int, datetime], list[float]] = defaultdict(lambda: [0.0, 0.0, 0])

    rows: list[FeatureRow] = []
    # Raw rows with epoch buckets: parsing one timestamp per row was the
    # largest cost of building the features.
    sql = (
        f"SELECT gpu_id, {epoch('bucket')}, present_s, util_sum, util_n, power_sum, power_n,"
        " temp_sum, temp_n, mem_used_max, mem_total, throttled_s"
        f" FROM {GpuRollup._meta.db_table}"
        " WHERE resolution = %s AND bucket >= %s AND bucket < %s"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [Resolution.MINUTE, param(start), param(end)])
        readings = [(r[0], _minute(r[1]), *r[2:]) for r in cursor.fetchall()]
    for (
        gpu_id,
        ts,
        present,
        u_sum,
        u_n,
        p_sum,
        p_n,
        t_sum,
        t_n,
        used,
        total,
        throttled,
    ) in readings:
        if not (u_n and p_n and t_n and used is not None and gpu_id in gpus):
            continue
        group, memory = gpus[gpu_id]
        total = total or memory
        if not total:
            continue
        util, power = u_sum / u_n, p_sum / p_n
        vector = (
            util,
            power,
            used / total,
            t_sum / t_n,
            min(throttled / present, 1.0) if present else 0.0,
            tokens_on_gpu.get((gpu_id, ts), 0.0),
        )
        rows.append(FeatureRow(group, f"gpu:{gpu_id}", ts, vector))
        for dep_id in gpu_deployments.get(gpu_id, ()):
            acc = load[(dep_id, ts)]
            acc[0] += util
            acc[1] += power
            acc[2] += 1

    for (dep_id, ts), values in serving.items():
        gpu_util = gpu_power = 0.0
        if dep_id in deployment_gpus:
            util_sum, power_sum, seen = load.get((dep_id, ts), (0.0, 0.0, 0))
            if not seen:
                continue
            gpu_util, gpu_power = util_sum / seen, power_sum / seen
        entity = f"deployment:{dep_id}"
        rows.append(FeatureRow(entity, entity, ts, (*values, gpu_util, gpu_power)))
    return rows


@functools.lru_cache(maxsize=100_000)
def _minute(seconds: float) -> datetime:
    return datetime.fromtimestamp(round(seconds), tz=UTC)


def _serving(start: datetime, end: datetime) -> dict[tuple[int, datetime], tuple[float, ...]]:
    """(deployment, minute) -> the serving part of its vector."""
    out: dict[tuple[int, datetime], tuple[float, ...]] = {}
    rows = inference_buckets(
        Resolution.MINUTE, start, end, columns=_SERVING_COLUMNS, histograms=_SERVING_HISTOGRAMS
    )
    for row in rows:
        present = row["present_s"]
        if not present or present <= 0:
            continue
        finished = row.requests
        out[(row.deployment_id, row.bucket)] = (
            row["generation_tokens"] / present,
            finished / present,
            row.p("ttft_hist", 0.95) or 0.0,
            row.p("e2e_hist", 0.95) or 0.0,
            row["running_max"] or 0.0,
            row["waiting_max"] or 0.0,
            ratio(row["kv_cache_sum"], row["kv_cache_n"]) or 0.0,
            ratio(row["requests_error"], finished) or 0.0,
        )
    return out


# What a deployment's serving features read from each minute rollup.
_SERVING_COLUMNS = (
    "present_s",
    "generation_tokens",
    "requests_ok",
    "requests_error",
    "requests_aborted",
    "running_max",
    "waiting_max",
    "kv_cache_sum",
    "kv_cache_n",
)
_SERVING_HISTOGRAMS = ("ttft_hist", "e2e_hist")
