"""A profiled deployment with its week of cost and traffic and its sweep: built for the
precision, kernels and prefix cache rule tests."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from collectors.models import Deployment, DeploymentSettings, Gpu, Node
from costs.models import CostRecord
from profiling.choices import JobStatus, PointStatus
from profiling.models import ProfilingJob, ProfilingResult
from telemetry.choices import Resolution
from telemetry.models import InferenceRollup

END = datetime(2026, 11, 23, tzinfo=UTC)  # the window is the 7 days before


def deployment(
    name: str = "chat-8b", server_kind: str = "vllm", node: str = "gpu-node-1", **settings: Any
) -> Deployment:
    """A deployment on one H100; settings, when given, are stored (else defaults)."""
    host, _ = Node.objects.get_or_create(name=node)
    gpu = Gpu.objects.create(node=host, uuid=f"GPU-{name}-{node}", index=0, model_name="H100")
    dep = Deployment.objects.create(node=host, name=name, server_kind=server_kind)
    dep.gpus.add(gpu)
    if settings:
        DeploymentSettings.objects.create(deployment=dep, **settings)
    return dep


def costs(dep: Deployment, hours: int = 7 * 24, usd: str = "5.00") -> None:
    gpu = dep.gpus.get()
    CostRecord.objects.bulk_create(
        CostRecord(
            hour=END - timedelta(hours=h + 1),
            gpu=gpu,
            deployment=dep,
            usd=Decimal(usd),
            gpu_hours=1.0,
            rate_usd_per_hour=Decimal(usd),
            pricing="test",
        )
        for h in range(hours)
    )


def traffic(
    dep: Deployment,
    hours: int = 7 * 24,
    requests: int = 3600,
    prompt: int = 1000,
    gen: int = 200,
    concurrency: float | None = 16.0,
    queries: int = 0,
    hits: int = 0,
) -> None:
    """Hourly rows: `prompt` and `gen` tokens per request; concurrency through the e2e
    histogram's sum (Little's law), None for a server without one."""
    e2e = (
        None
        if concurrency is None
        else {"bounds": [1.0, 10.0], "counts": [0, requests, 0], "sum": concurrency * 3600}
    )
    InferenceRollup.objects.bulk_create(
        InferenceRollup(
            deployment=dep,
            resolution=Resolution.HOUR,
            bucket=END - timedelta(hours=h + 1),
            samples=360,
            present_s=3600.0,
            requests_ok=requests,
            prompt_tokens=requests * prompt,
            generation_tokens=requests * gen,
            prefix_cache_queries=queries,
            prefix_cache_hits=hits,
            e2e_hist=e2e,
        )
        for h in range(hours)
    )


# prompt_len, gen_len, batch, dtype, quant, attention, compiled, tokens/s, ITL ms, TTFT ms
Point = tuple[int, int, int, str, str, str, bool, float, float, float]


def sweep(dep: Deployment, points: list[Point], status: str = JobStatus.DONE) -> ProfilingJob:
    job = ProfilingJob.objects.create(
        deployment=dep, node=dep.node, spec={}, status=status, finished_at=END, gpu_model="H100"
    )
    ProfilingResult.objects.bulk_create(
        ProfilingResult(
            job=job,
            index=i,
            prompt_len=p,
            gen_len=g,
            batch_size=b,
            dtype=dtype,
            quant=quant,
            attention=attention,
            compiled=compiled,
            status=PointStatus.OK if tps else PointStatus.OOM,
            tokens_per_s=tps or None,
            decode_tokens_per_s=tps * 0.8 or None,
            itl_ms=itl or None,
            ttft_ms=ttft or None,
        )
        for i, (p, g, b, dtype, quant, attention, compiled, tps, itl, ttft) in enumerate(points)
    )
    return job
