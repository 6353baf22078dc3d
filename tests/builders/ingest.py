"""Agent batch bodies, as the ingest endpoint receives them, and the simulated fleet
stored through the ingest service."""

from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec

from collectors.services import agent_create

INGEST_URL = "/api/v1/ingest"


def now_utc() -> datetime:
    """Now, to the second, in UTC."""
    return datetime.now(UTC).replace(microsecond=0)


def inventory(gpus: int = 2, node: str = "node-1", prefix: str = "GPU") -> dict[str, Any]:
    """A batch's inventory: `node` (rack r1) with `gpus` H100s `<prefix>-0000`..., and
    chat-8b (vLLM, team search) on the first."""
    return {
        "nodes": [{"name": node, "hostname": f"{node}.example", "labels": {"rack": "r1"}}],
        "gpus": [
            {
                "uuid": f"{prefix}-{i:04d}",
                "node": node,
                "index": i,
                "model": "NVIDIA H100 80GB HBM3",
                "memory_total_bytes": 80 * 2**30,
            }
            for i in range(gpus)
        ],
        "deployments": [
            {
                "name": "chat-8b",
                "node": node,
                "model": "meta-llama/Llama-3.1-8B-Instruct",
                "server": "vllm",
                "gpus": [f"{prefix}-0000"],
                "labels": {"team": "search"},
            }
        ],
    }


def gpu_sample(uuid: str = "GPU-0000", ts: datetime | None = None, **fields: Any) -> dict:
    """One GPU sample with every field a busy H100 reports; `fields` override them."""
    sample = {
        "gpu": uuid,
        "ts": (ts or now_utc()).isoformat(),
        "util_gpu": 87.5,
        "util_mem": 41.0,
        "mem_used_bytes": 70 * 2**30,
        "mem_total_bytes": 80 * 2**30,
        "power_w": 612.3,
        "power_limit_w": 700.0,
        "energy_j": 123456789.5,
        "temp_c": 71.0,
        "sm_clock_mhz": 1980,
        "mem_clock_mhz": 2619,
        "throttle_reasons": 0,
        "pcie_rx_bytes_s": 2.1e8,
        "pcie_tx_bytes_s": 1.3e8,
        "ecc_corrected": 0,
        "ecc_uncorrected": 0,
        "gr_engine_active": 0.82,
        "tensor_active": 0.41,
        "dram_active": 0.55,
    }
    sample.update(fields)
    return sample


def inference_sample(ts: datetime | None = None, **fields: Any) -> dict:
    """One 10-second inference sample of chat-8b; `fields` override its values."""
    sample = {
        "deployment": "chat-8b",
        "ts": (ts or now_utc()).isoformat(),
        "interval_s": 10.0,
        "requests_ok": 42,
        "requests_error": 1,
        "prompt_tokens": 25_000,
        "generation_tokens": 9_000,
        "running": 12.0,
        "waiting": 0.0,
        "kv_cache_usage": 0.43,
        "prefix_cache_hits": 8_000,
        "prefix_cache_queries": 25_000,
        "ttft_hist": {"bounds": [0.05, 0.1, 0.5], "counts": [10, 25, 7, 1], "sum": 4.2},
    }
    sample.update(fields)
    return sample


def batch(
    batch_id: str = "batch-1",
    gpu_samples: int = 4,
    node: str = "node-1",
    prefix: str = "GPU",
    earlier_s: int = 0,
    **fields: Any,
) -> dict[str, Any]:
    """A valid batch: two GPUs sampled in turn every 10 s, and one inference sample,
    ending a minute (plus `earlier_s`) before now."""
    start = now_utc() - timedelta(seconds=10 * (gpu_samples // 2 + 6) + earlier_s)
    body: dict[str, Any] = {
        "schema_version": 1,
        "batch_id": batch_id,
        "agent_version": "0.1.0",
        "inventory": inventory(node=node, prefix=prefix),
        "gpu_samples": [
            gpu_sample(f"{prefix}-{i % 2:04d}", start + timedelta(seconds=10 * (i // 2)))
            for i in range(gpu_samples)
        ],
        "inference_samples": [inference_sample(start)],
    }
    body.update(fields)
    return body


def ingest_simulated(intervals: int = 1) -> None:
    """Store the simulated fleet's latest intervals through the ingest service, as
    the local agent of `make run` would send them."""
    from collectors.agent.simulated import batch_body
    from collectors.ingest import ingest_batch
    from collectors.models import Agent

    agent = Agent.objects.filter(name="simulated-agent").first()
    agent = agent or agent_create("simulated-agent")[0]
    end = now_utc().timestamp() // 10 * 10 + 10
    body = batch_body(end - 10 * intervals, end, 10.0)
    ingest_batch(agent, msgspec.json.encode(body))
