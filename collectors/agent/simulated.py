"""A simulated fleet for demos and tests, labelled "simulated" everywhere it shows.

It produces the same ingest body an agent sends, so everything downstream sees
real rows. Values are a pure function of (entity, time): the same interval
always yields the same samples, so a re-sent batch is the same batch.
"""

import math
import random
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

DAY = 86400.0


@dataclass(frozen=True)
class SimGpu:
    uuid: str
    node: str
    index: int
    model: str
    memory_gib: int
    idle_w: float
    max_w: float


@dataclass(frozen=True)
class SimDeployment:
    name: str
    node: str
    model: str
    server: str
    gpus: tuple[int, ...]
    labels: dict[str, str]
    peak_rps: float  # 0: the server holds its GPUs but gets no traffic
    phase_h: float
    # Share of each GPU's memory the server takes at start and holds: vLLM's
    # --gpu-memory-utilization, SGLang's --mem-fraction-static, TGI's
    # --cuda-memory-fraction. Lower where two servers share a GPU.
    mem_frac: float
    # The latency model (see latency()): requests/s at which the server saturates,
    # and the median TTFT (or, for an embedder, the whole request) when unloaded,
    # the queueing delay's scale and the unloaded median inter-token latency.
    saturation_rps: float = 1.0
    base_s: float = 0.05
    queue_s: float = 0.1
    itl_s: float = 0.018


NODES = ("sim-node-a", "sim-node-b")
GPUS = tuple(
    SimGpu(f"GPU-sim-a-{i}", NODES[0], i, "NVIDIA H100 80GB HBM3", 80, 70.0, 700.0)
    for i in range(4)
) + tuple(SimGpu(f"GPU-sim-b-{i}", NODES[1], i, "NVIDIA L40S", 48, 35.0, 350.0) for i in range(4))
DEPLOYMENTS = (
    SimDeployment(
        "chat-llama-8b",
        NODES[0],
        "meta-llama/Llama-3.1-8B-Instruct",
        "vllm",
        (0, 1),
        {"team": "search", "project": "assistant"},
        14.0,
        15.0,
        0.9,
        saturation_rps=18.0,
        base_s=0.06,
        queue_s=0.12,
        itl_s=0.018,
    ),
    SimDeployment(
        "code-qwen-32b",
        NODES[0],
        "Qwen/Qwen2.5-Coder-32B-Instruct",
        "vllm",
        (2, 3),
        {"team": "devtools", "project": "copilot"},
        4.0,
        17.0,
        0.9,
        # Its peak is past what it carries within the TTFT target: SLO breaches.
        saturation_rps=4.4,
        base_s=0.15,
        queue_s=0.25,
        itl_s=0.022,
    ),
    SimDeployment(
        "embed-bge",
        NODES[1],
        "BAAI/bge-large-en-v1.5",
        "tgi",
        (0,),
        {"team": "search", "project": "retrieval"},
        30.0,
        14.0,
        0.7,
        saturation_rps=45.0,
        base_s=0.03,
        queue_s=0.03,
    ),
    # Shares embed-bge's GPU: a shared GPU's cost is split by the memory each holds.
    SimDeployment(
        "rerank-minilm",
        NODES[1],
        "cross-encoder/ms-marco-MiniLM-L-6-v2",
        "tgi",
        (0,),
        {"team": "search", "project": "retrieval"},
        6.0,
        14.5,
        0.15,
        saturation_rps=10.0,
        base_s=0.02,
        queue_s=0.02,
    ),
    # Holds a GPU with no traffic: the idle-held case the product exists to find.
    SimDeployment(
        "summarize-7b",
        NODES[1],
        "mistralai/Mistral-7B-Instruct-v0.3",
        "sglang",
        (1,),
        {"team": "research", "project": "digest"},
        0.0,
        0.0,
        0.88,
    ),
)
TTFT_BOUNDS = (0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 10.0)
ITL_BOUNDS = (0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0)
E2E_BOUNDS = (
    0.3,
    0.5,
    0.8,
    1.0,
    1.5,
    2.0,
    2.5,
    5.0,
    10.0,
    15.0,
    20.0,
    30.0,
    60.0,
)
# TGI's router gives every *_duration histogram these buckets: 10 us x 1.5^k.
TGI_DURATION_BOUNDS = tuple(round(1e-5 * 1.5**k, 9) for k in range(1, 36))
SIGMA = 0.6  # log-normal spread of every latency around its median
P95_FACTOR = math.exp(1.6448536 * SIGMA)  # p95 / median of that log-normal
MEAN_GENERATED = 250  # tokens a chat request generates, on average
QUEUE_BOUNDS = (0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 2.5, 5.0)


# The energy counter counts from a boot in 2024, a realistic range for the counter.
_BOOT = datetime(2024, 1, 1, tzinfo=UTC).timestamp()


def _rng(*key: object) -> random.Random:
    return random.Random(zlib.crc32(":".join(map(str, key)).encode()))


def _load(t: float, phase_h: float) -> float:
    """Daily traffic shape, 0.15 at night to 1.0 at the peak hour."""
    return 0.15 + 0.85 * (0.5 - 0.5 * math.cos(2 * math.pi * (t / DAY - (phase_h - 12) / 24)))


def _load_integral(t: float, phase_h: float) -> float:
    w = 2 * math.pi / DAY
    shift = (phase_h - 12) / 24 * DAY
    return 0.15 * t + 0.425 * t - 0.425 * math.sin(w * (t - shift)) / w


def _gpu_deployments(gpu: SimGpu) -> list[SimDeployment]:
    return [d for d in DEPLOYMENTS if d.node == gpu.node and gpu.index in d.gpus]


def _deployment_gpus(dep: SimDeployment) -> list[SimGpu]:
    return [g for g in GPUS if g.node == dep.node and g.index in dep.gpus]


def _held_bytes(dep: SimDeployment, gpu: SimGpu) -> int:
    return int(gpu.memory_gib * 2**30 * dep.mem_frac)


@dataclass(frozen=True)
class Latency:
    """Median latencies (s) of one deployment at one request rate."""

    ttft: float  # an embedder's whole request
    itl: float
    queue: float
    e2e: float


def generates(dep: SimDeployment) -> bool:
    return not (dep.server == "tgi" and dep.name.startswith(("embed", "rerank")))


def latency(dep: SimDeployment, rps: float) -> Latency:
    """A queueing server: waiting grows as rho / (1 - rho) with rho = rate / saturation,
    and each decode step slows as the running batch grows."""
    rho = min(max(rps, 0.0) / dep.saturation_rps, 0.98)
    queue = dep.queue_s * rho / (1 - rho)
    ttft = dep.base_s + queue
    if not generates(dep):
        return Latency(ttft, 0.0, queue, ttft)
    itl = dep.itl_s * (1 + 0.8 * rho)
    return Latency(ttft, itl, queue, ttft + itl * MEAN_GENERATED)


def capacity_at_slo(
    dep: SimDeployment, ttft_ms: float = 2000.0, itl_ms: float = 100.0, e2e_ms: float = 30000.0
) -> float:
    """The true request rate at which the first p95 target is reached (0: no traffic).

    What bench/headroom.py checks the estimate against. Generating servers are held
    to all three targets; an embedder, which has no first token, to e2e only.
    """
    if not dep.peak_rps:
        return 0.0

    def meets(rps: float) -> bool:
        lat = latency(dep, rps)
        if not generates(dep):
            return lat.e2e * P95_FACTOR <= e2e_ms / 1000
        return (
            lat.ttft * P95_FACTOR <= ttft_ms / 1000
            and lat.itl * P95_FACTOR <= itl_ms / 1000
            and lat.e2e * P95_FACTOR <= e2e_ms / 1000
        )

    low, high = 0.0, dep.saturation_rps * 0.98
    if meets(high):
        return high
    for _ in range(60):
        mid = (low + high) / 2
        low, high = (mid, high) if meets(mid) else (low, mid)
    return low


def _histogram(bounds: tuple[float, ...], count: int, median: float, rng: random.Random) -> dict:
    """Spread `count` observations over buckets by a log-normal CDF around `median`."""
    sigma = SIGMA
    cdf = [0.5 * (1 + math.erf(math.log(b / median) / (sigma * math.sqrt(2)))) for b in bounds]
    counts, placed = [], 0
    for value in [*cdf, 1.0]:
        n = max(round(count * value) - placed, 0)
        counts.append(n)
        placed += n
    total = sum(counts)
    return {
        "bounds": list(bounds),
        "counts": counts,
        "sum": round(total * median * math.exp(sigma**2 / 2) * rng.uniform(0.95, 1.05), 6),
    }


def gpu_sample(gpu: SimGpu, t: float) -> dict[str, Any]:
    deps = _gpu_deployments(gpu)
    rng = _rng(gpu.uuid, int(t))
    # The servers on a GPU split its compute by their peak traffic, so a GPU at
    # every server's peak is fully busy; one without traffic adds nothing.
    peak = sum(d.peak_rps for d in deps)
    weights = [(d, d.peak_rps / peak) for d in deps if d.peak_rps] if peak else []
    busy = min(1.0, sum(w * _load(t, d.phase_h) for d, w in weights) * rng.uniform(0.9, 1.1))
    since = sum(
        w * (_load_integral(t, d.phase_h) - _load_integral(_BOOT, d.phase_h)) for d, w in weights
    )
    power = gpu.idle_w + (gpu.max_w - gpu.idle_w) * busy * 0.85
    energy = gpu.idle_w * (t - _BOOT) + (gpu.max_w - gpu.idle_w) * 0.85 * since
    return {
        "gpu": gpu.uuid,
        "ts": datetime.fromtimestamp(t, UTC),
        "util_gpu": round(busy * 100, 1),
        "util_mem": round(busy * 60, 1),
        # What the servers hold, plus the driver's own context memory.
        "mem_used_bytes": sum(_held_bytes(d, gpu) for d in deps) + 500 * 2**20,
        "mem_total_bytes": gpu.memory_gib * 2**30,
        "power_w": round(power * rng.uniform(0.97, 1.03), 1),
        "power_limit_w": gpu.max_w,
        "energy_j": round(energy, 1),
        "temp_c": round(32 + 45 * busy + rng.uniform(-1, 1), 1),
        "sm_clock_mhz": 1980 if busy > 0.05 else 345,
        "mem_clock_mhz": 2619 if gpu.max_w > 400 else 9001,
        "throttle_reasons": 0 if busy < 0.97 else 0x4,
        "pcie_rx_bytes_s": round(busy * 2.5e8 * rng.uniform(0.8, 1.2)),
        "pcie_tx_bytes_s": round(busy * 1.2e8 * rng.uniform(0.8, 1.2)),
        "ecc_corrected": 0,
        "ecc_uncorrected": 0,
    }


def inference_sample(dep: SimDeployment, t: float, interval: float) -> dict[str, Any]:
    rng = _rng(dep.name, int(t))
    load = _load(t, dep.phase_h) if dep.peak_rps else 0.0
    rate = dep.peak_rps * load  # offered requests/s; the count below is its noisy draw
    requests = max(0, round(rate * interval * rng.uniform(0.85, 1.15)))
    errors = sum(1 for _ in range(requests) if rng.random() < 0.004)
    prompt = requests * rng.randint(500, 700)
    generated = requests * rng.randint(180, 320) if generates(dep) else 0
    lat = latency(dep, rate)
    rho = min(rate / dep.saturation_rps, 1.0)
    sample: dict[str, Any] = {
        "deployment": dep.name,
        "node": dep.node,
        "ts": datetime.fromtimestamp(t, UTC),
        "interval_s": interval,
        "requests_ok": requests - errors,
        "requests_error": errors,
        "prompt_tokens": prompt,
        "generation_tokens": generated,
        # Little's law: requests in the server = rate x time each spends there.
        "running": round(rate * (lat.e2e - lat.queue), 1),
        "waiting": round(rate * lat.queue, 1),
        "kv_cache_usage": round(min(1.0, 0.05 + 0.8 * rho), 3) if dep.peak_rps else 0.0,
        "prefix_cache_queries": prompt,
        "prefix_cache_hits": int(prompt * 0.35),
        "preemptions": 1 if rho > 0.95 and rng.random() < 0.2 else 0,
        "gpu_memory": {g.uuid: _held_bytes(dep, g) for g in _deployment_gpus(dep)},
    }
    if dep.server == "vllm":
        # Request-seconds in each phase, as vLLM's prefill/decode time histograms sum them.
        sample["prefill_s"] = round(requests * (lat.ttft - lat.queue), 6)
        sample["decode_s"] = round(lat.itl * generated, 6)
    elif dep.server == "tgi":
        # GPU seconds of the batches in each phase: an embedder only prefills.
        sample["prefill_s"] = round(interval * rho * 0.9, 6)
        sample["decode_s"] = 0.0
    if requests:
        e2e, queue = (
            (TGI_DURATION_BOUNDS,) * 2 if dep.server == "tgi" else (E2E_BOUNDS, QUEUE_BOUNDS)
        )
        sample["e2e_hist"] = _histogram(e2e, requests, lat.e2e, rng)
        sample["queue_hist"] = _histogram(queue, requests, max(lat.queue, 1e-4), rng)
        if generated:
            sample["ttft_hist"] = _histogram(TTFT_BOUNDS, requests, lat.ttft, rng)
            sample["itl_hist"] = _histogram(ITL_BOUNDS, generated, lat.itl, rng)
    return sample


def inventory(deployments: tuple[SimDeployment, ...] = DEPLOYMENTS) -> dict[str, Any]:
    return {
        "nodes": [{"name": n, "hostname": n, "simulated": True} for n in NODES],
        "gpus": [
            {
                "uuid": g.uuid,
                "node": g.node,
                "index": g.index,
                "model": g.model,
                "memory_total_bytes": g.memory_gib * 2**30,
            }
            for g in GPUS
        ],
        "deployments": [
            {
                "name": d.name,
                "node": d.node,
                "model": d.model,
                "server": d.server,
                "gpus": [g.uuid for g in _deployment_gpus(d)],
                "labels": d.labels,
                "endpoint": f"http://{d.node}:8000/metrics",
            }
            for d in deployments
        ],
    }


def batch_body(
    start: float,
    stop: float,
    interval: float,
    deployments: tuple[SimDeployment, ...] = DEPLOYMENTS,
) -> dict[str, Any]:
    """The ingest body for every interval boundary t with start <= t < stop.

    `deployments` may add servers (bench/headroom.py's fleet of known capacities).
    """
    times = [start + i * interval for i in range(int((stop - start) // interval))]
    return {
        "schema_version": 1,
        "batch_id": f"sim-{int(interval)}-{int(start)}-{len(times)}",
        "agent_version": "simulator",
        "inventory": inventory(deployments),
        "gpu_samples": [gpu_sample(g, t) for t in times for g in GPUS],
        "inference_samples": [inference_sample(d, t, interval) for t in times for d in deployments],
    }
