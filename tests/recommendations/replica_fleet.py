"""A service of replicas on H100s with a week of hourly traffic and cost, and its sweep:
built for the underused, cheaper-GPU and troughs rule tests."""

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from collectors.models import Deployment, Gpu, Node
from costs.models import CostRecord
from profiling.choices import JobStatus, PointStatus
from profiling.models import ProfilingJob, ProfilingResult
from telemetry.choices import Resolution
from telemetry.models import InferenceRollup

END = datetime(2026, 11, 23, tzinfo=UTC)  # the window is the 7 days before
START = END - timedelta(days=7)
WEEK = 7 * 24
H100 = "NVIDIA H100 80GB HBM3"
MODEL = "meta-llama/Llama-3.1-8B-Instruct"
BOUNDS = [0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0]


def hist(upper_s: float, n: int = 1000) -> dict[str, object]:
    """Every observation in the bucket that ends at upper_s: p95 lands near its top."""
    counts = [0] * (len(BOUNDS) + 1)
    counts[BOUNDS.index(upper_s)] = n
    return {"bounds": BOUNDS, "counts": counts, "sum": upper_s * n}


def service(
    name: str, replicas: int, model: str = MODEL, gpu: str = H100, gpus: int = 1
) -> list[Deployment]:
    deps = []
    for i in range(replicas):
        node = Node.objects.create(name=f"{name}-node-{i}")
        dep = Deployment.objects.create(node=node, name=name, model=model, server_kind="vllm")
        for g in range(gpus):
            dep.gpus.add(
                Gpu.objects.create(node=node, uuid=f"{node.name}-{g}", index=g, model_name=gpu)
            )
        deps.append(dep)
    return deps


Load = Callable[[datetime], float]


def traffic(
    deps: list[Deployment],
    tokens_s: float | Load,
    hours: int = WEEK,
    itl_s: float | Callable[[datetime], float] = 0.05,
    ttft_s: float = 0.5,
    usd: str | None = "2.50",
) -> None:
    """Each replica carries tokens_s (a third generated) every hour of the last `hours`,
    with p95 ITL in the bucket ending at itl_s; each of its GPUs costs `usd` an hour."""
    start = END - timedelta(hours=hours)
    buckets = [start + timedelta(hours=h) for h in range(hours)]
    for dep in deps:
        rows = []
        for bucket in buckets:
            tokens = round((tokens_s(bucket) if callable(tokens_s) else tokens_s) * 3600)
            itl = itl_s(bucket) if callable(itl_s) else itl_s
            rows.append(
                InferenceRollup(
                    deployment=dep,
                    resolution=Resolution.HOUR,
                    bucket=bucket,
                    samples=360,
                    present_s=3600,
                    prompt_tokens=tokens - tokens // 3,
                    generation_tokens=tokens // 3,
                    itl_hist=hist(itl),
                    ttft_hist=hist(ttft_s),
                )
            )
        InferenceRollup.objects.bulk_create(rows)
        if usd is None:
            continue
        CostRecord.objects.bulk_create(
            CostRecord(
                hour=bucket,
                gpu=gpu,
                deployment=dep,
                usd=Decimal(usd),
                gpu_hours=1.0,
                rate_usd_per_hour=Decimal(usd),
                pricing="test",
            )
            for bucket in buckets
            for gpu in dep.gpus.all()
        )


def sweep(
    dep: Deployment, points: list[dict[str, object]], gpu_model: str = "H100 SXM"
) -> ProfilingJob:
    job = ProfilingJob.objects.create(
        node=dep.node,
        deployment=dep,
        spec={},
        status=JobStatus.DONE,
        gpu_model=gpu_model,
        device={"type": "cuda", "name": H100},
        finished_at=END - timedelta(days=2),
    )
    for i, point in enumerate(points):
        values: dict[str, object] = {
            "batch_size": 16,
            "prompt_len": 512,
            "gen_len": 256,
            "dtype": "bf16",
            "quant": "none",
            "attention": "auto",
            "status": PointStatus.OK,
            "ttft_ms": 300.0,
            "decode_tokens_per_s": 400.0,
        }
        values.update(point)
        ProfilingResult.objects.create(job=job, index=i, **values)
    return job


# 900 tokens/s at ITL 38 ms meets the default 100 ms; the faster points do not count:
# one breaks the target, one is a prefill-heavy shape far from the traffic's mix.
SWEEP = [
    {"batch_size": 8, "itl_ms": 25.0, "tokens_per_s": 500.0},
    {"batch_size": 16, "itl_ms": 38.0, "tokens_per_s": 900.0},
    {"batch_size": 64, "itl_ms": 140.0, "tokens_per_s": 2100.0},
    {"prompt_len": 2048, "gen_len": 16, "itl_ms": 30.0, "tokens_per_s": 9000.0},
]
