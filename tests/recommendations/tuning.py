"""One deployment's week and the sweep of its settings (rule 4, precision, and the
kernels and prefix cache rules): the deployment, its hourly cost and traffic, its sweep."""

from typing import Any

from collectors.models import Deployment
from profiling.choices import JobStatus, PointStatus
from profiling.models import ProfilingJob, ProfilingResult
from tests.builders import fleet
from tests.builders.hours import END, WEEK, cost_hours, inference_hours


def deployment(
    name: str = "chat-8b", server_kind: str = "vllm", node: str = "gpu-node-1", **settings: Any
) -> Deployment:
    """A deployment on one H100; settings, when given, are stored (else defaults)."""
    return fleet.deployment(
        name, node, gpu_model="H100", settings=settings or None, server_kind=server_kind
    )


def costs(dep: Deployment, hours: int = WEEK, usd: str = "5.00") -> None:
    cost_hours(dep.gpus.get(), dep, usd, hours)


def traffic(
    dep: Deployment,
    hours: int = WEEK,
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
    inference_hours(
        dep,
        hours,
        requests_ok=requests,
        prompt_tokens=requests * prompt,
        generation_tokens=requests * gen,
        prefix_cache_queries=queries,
        prefix_cache_hits=hits,
        e2e_hist=e2e,
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
