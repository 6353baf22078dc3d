"""Services of several replicas (rule 2, underused deployments, and the rules built on
it): the replicas, a week of their traffic and cost, and a sweep of what one serves."""

from collections.abc import Callable
from datetime import datetime, timedelta

from collectors.models import Deployment
from profiling.choices import JobStatus, PointStatus
from profiling.models import ProfilingJob, ProfilingResult
from tests.builders.fleet import deployment
from tests.builders.hours import END, WEEK, cost_hours, inference_hours

START = END - timedelta(days=7)
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
    """`replicas` deployments called `name`, each on its own node `<name>-node-<i>` with
    `gpus` GPUs of model `gpu`."""
    return [
        deployment(
            name,
            f"{name}-node-{i}",
            uuids=[f"{name}-node-{i}-{g}" for g in range(gpus)],
            gpu_model=gpu,
            model=model,
            server_kind="vllm",
        )
        for i in range(replicas)
    ]


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

    def hour(h: int, bucket: datetime) -> dict[str, object]:
        tokens = round((tokens_s(bucket) if callable(tokens_s) else tokens_s) * 3600)
        itl = itl_s(bucket) if callable(itl_s) else itl_s
        return {
            "prompt_tokens": tokens - tokens // 3,
            "generation_tokens": tokens // 3,
            "itl_hist": hist(itl),
        }

    for dep in deps:
        inference_hours(dep, hours, each=hour, ttft_hist=hist(ttft_s))
        if usd is not None:
            cost_hours(dep.gpus.all(), dep, usd, hours)


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
