"""A node that allows profiling, and a finished sweep built by hand, for the Profiling pages.

The sweep's figures are chosen so the answers are easy to check by eye: see
`finished_job` for which setting is cheapest under which latency target.
"""

from decimal import Decimal
from typing import Any

from django.utils import timezone

from collectors.models import Node
from collectors.services import agent_create
from profiling.choices import JobSource, JobStatus
from profiling.models import ProfilingCapability, ProfilingJob, ProfilingResult

H100 = {"index": 0, "name": "NVIDIA H100 80GB HBM3", "memory_bytes": 80 * 2**30}
GIB = 2**30


def profiling_node(
    name: str = "gpu-1", presets: tuple[str, ...] = ("tiny", "1b"), gpu: bool = True
) -> Node:
    agent, _ = agent_create(f"{name}-agent")
    node = Node.objects.create(name=name, agent=agent)
    ProfilingCapability.objects.create(
        node=node,
        presets=list(presets),
        model_paths=["/models"],
        devices=[H100] if gpu else [],
        torch_version="2.5.1",
        max_time_limit_s=3600,
        reported_at=timezone.now(),
    )
    return node


SPEC = {
    "preset": "1b",
    "model_path": "",
    "device": "cuda",
    "batch_sizes": [1, 8, 32, 128],
    "prompt_lens": [128],
    "gen_lens": [32],
    "dtypes": ["bf16"],
    "quants": ["none", "int8"],
    "attentions": ["flash"],
    "compile": [False],
    "warmup": 2,
    "repeats": 5,
    "memory_limit_bytes": None,
    "seed": 0,
}
# index: (quant, batch, ITL ms, TTFT ms, decode tokens/s, $ per 1M tokens, peak GiB)
POINTS = {
    0: ("none", 1, 10.0, 20.0, 100.0, 2.0, 2.6),
    1: ("none", 8, 12.0, 60.0, 660.0, 0.40, 3.1),
    2: ("none", 32, 20.0, 200.0, 1600.0, 0.15, 5.0),
    4: ("int8", 1, 8.0, 25.0, 125.0, 1.8, 1.5),
    5: ("int8", 8, 9.5, 70.0, 840.0, 0.30, 2.0),
    6: ("int8", 32, 16.0, 240.0, 2000.0, 0.12, 3.9),
}


def finished_job(node: Node | None, name: str = "1b on gpu-1", priced: bool = True) -> ProfilingJob:
    """Eight points of bf16 flash attention, plain and int8, batch 1 to 128.

    Batch 128 ran out of memory plain (point 3) and failed with int8 (point 7).
    ITL at most 12 ms: points 0, 1, 4, 5 meet it; the cheapest is 5 (int8, batch 8,
    $0.30). Add TTFT at most 50 ms: only 0 and 4; the cheapest is 4 ($1.80). No
    target: 6 ($0.12). The Pareto front (decode tokens/s vs ITL) is 4, 5, 6.
    """
    job = ProfilingJob.objects.create(
        name=name,
        node=node,
        spec=SPEC,
        status=JobStatus.DONE,
        source=JobSource.DASHBOARD,
        points_total=8,
        points_done=8,
        device={"type": "cuda", "torch": "2.5.1", "cuda": "12.4", **H100},
        model_info={"name": "1b", "kind": "preset", "params": 1_235_814_400, "layers": 16},
        gpu_model="H100 SXM",
        usd_per_gpu_hour=Decimal("4.0000") if priced else None,
        price_description="price book: H100 SXM on_demand $4.0000/GPU-h from 2025-01-01"
        if priced
        else "no on-demand price for 'NVIDIA H100 80GB HBM3'",
        started_at=timezone.now(),
        finished_at=timezone.now(),
    )
    rows = [result(job, i, *POINTS[i], priced=priced) for i in sorted(POINTS)]
    rows.append(failed(job, 3, "none", "oom", "CUDA out of memory. Tried to allocate 2.00 GiB"))
    rows.append(failed(job, 7, "int8", "error", "RuntimeError: int8 matmul needs sm_80"))
    ProfilingResult.objects.bulk_create(rows)
    return job


# Two request shapes, prompt 128 and 1024 (gen 32 both), in the sweep's order
# (quant, then prompt, then batch): index: (quant, batch, ITL, TTFT, decode, $, GiB, prompt)
TWO_SHAPES = {
    0: ("none", 1, 10.0, 20.0, 100.0, 2.00, 2.6, 128),
    1: ("none", 8, 12.0, 60.0, 660.0, 0.40, 3.1, 128),
    2: ("none", 1, 11.0, 90.0, 95.0, 0.35, 2.9, 1024),
    3: ("none", 8, 14.0, 400.0, 570.0, 0.07, 4.8, 1024),
    4: ("int8", 1, 8.0, 25.0, 125.0, 1.80, 1.5, 128),
    5: ("int8", 8, 9.5, 70.0, 840.0, 0.30, 2.0, 128),
    6: ("int8", 1, 9.0, 110.0, 115.0, 0.32, 1.8, 1024),
    7: ("int8", 8, 11.5, 450.0, 700.0, 0.06, 3.5, 1024),
}


def two_shape_job(node: Node | None, name: str = "two shapes") -> ProfilingJob:
    """Eight points, all measured: plain and int8 at batch 1 and 8, each at prompt 128
    and prompt 1024 (gen 32).

    $ per 1M tokens counts the prompt's tokens, which cost little to prefill, so every
    1024-token point is cheaper than its 128-token twin: across both shapes the cheapest
    is 7 whatever the setting. At prompt 128 (the first shape; both have four points)
    the cheapest is 5 (int8, batch 8, $0.30), and 5 again with ITL at most 12 ms
    (0, 1, 4, 5 meet it). At prompt 1024: 7 ($0.06); with ITL at most 11 ms, 2 and 6
    meet it and 6 is the cheaper ($0.32 against $0.35).
    """
    job = ProfilingJob.objects.create(
        name=name,
        node=node,
        spec={**SPEC, "batch_sizes": [1, 8], "prompt_lens": [128, 1024]},
        status=JobStatus.DONE,
        source=JobSource.DASHBOARD,
        points_total=8,
        points_done=8,
        device={"type": "cuda", "torch": "2.5.1", "cuda": "12.4", **H100},
        model_info={"name": "1b", "kind": "preset", "params": 1_235_814_400, "layers": 16},
        gpu_model="H100 SXM",
        usd_per_gpu_hour=Decimal("4.0000"),
        price_description="price book: H100 SXM on_demand $4.0000/GPU-h from 2025-01-01",
        started_at=timezone.now(),
        finished_at=timezone.now(),
    )
    ProfilingResult.objects.bulk_create(
        result(job, i, *TWO_SHAPES[i][:7], prompt=TWO_SHAPES[i][7]) for i in sorted(TWO_SHAPES)
    )
    return job


def result(
    job: ProfilingJob,
    index: int,
    quant: str,
    batch: int,
    itl: float,
    ttft: float,
    decode: float,
    usd: float,
    gib: float,
    priced: bool = True,
    prompt: int = 128,
) -> ProfilingResult:
    fields: dict[str, Any] = {
        "ttft_ms": ttft,
        "ttft_ms_min": ttft * 0.95,
        "ttft_ms_max": ttft * 1.1,
        "itl_ms": itl,
        "itl_ms_min": itl * 0.9,
        "itl_ms_max": itl * 1.2,
        "request_ms": ttft + 31 * itl,
        "prefill_tokens_per_s": batch * prompt / ttft * 1000,
        "decode_tokens_per_s": decode,
        "tokens_per_s": decode * 1.2,
        "peak_memory_bytes": int(gib * GIB),
        "prefill_tflops": 120.5,
        "mfu": 0.122,
        "decode_gb_per_s": 1500.0,
        "mbu": 0.45,
        "avg_power_w": 420.0,
        "energy_j_per_token": 0.0123,
        "gpu_util_pct": 97.0,
        "repeats": 5,
        "usd_per_1m_tokens": usd if priced else None,
        "usd_per_1m_output_tokens": usd * 5 if priced else None,
    }
    return ProfilingResult(
        job=job,
        index=index,
        batch_size=batch,
        prompt_len=prompt,
        gen_len=32,
        dtype="bf16",
        quant=quant,
        attention="flash",
        compiled=False,
        status="ok",
        **fields,
    )


def failed(job: ProfilingJob, index: int, quant: str, status: str, error: str) -> ProfilingResult:
    return ProfilingResult(
        job=job,
        index=index,
        batch_size=128,
        prompt_len=128,
        gen_len=32,
        dtype="bf16",
        quant=quant,
        attention="flash",
        status=status,
        error=error,
    )


FORM = {
    "node": "",
    "name": "",
    "preset": "tiny",
    "model_path": "",
    "batch_sizes": "1, 4, 16",
    "prompt_lens": "128",
    "gen_lens": "32",
    "dtypes": ["bf16", "fp16"],
    "quants": ["none"],
    "attentions": ["auto"],
    "compile": ["off"],
    "device": "cuda",
    "repeats": "3",
}
