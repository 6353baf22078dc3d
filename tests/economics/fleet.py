"""Two hand-checkable hours of a small fleet, stored through the real ingest service.

node-e: three H100 SXM at a test price of $2.00/GPU-h.
  e0: `chat` (vLLM) alone. Hour H: serves in minutes 0-44, idle (nothing running)
      in 45-59. Hour H+1: idle throughout.
  e1: `embed` (TGI) alone, serving every minute of both hours (alone on a GPU,
      it pays for all of it, whatever memory it holds).
  e2: no deployment.
Samples every minute; one GPU sample before H so its first minute counts.
"""

from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec

from collectors.ingest import ingest_batch
from collectors.services import agent_create
from costs.pipeline import rollup_pending
from tests.builders.prices import price
from tests.snapshots import snapshot

GIB = 2**30
H = datetime(2026, 11, 3, 10, tzinfo=UTC)
END = H + timedelta(hours=2)

# chat's traffic in each serving minute.
CHAT = {
    "requests_ok": 10,
    "prompt_tokens": 1000,
    "generation_tokens": 500,
    "running": 4.0,
    "prefix_cache_queries": 1000,
    "prefix_cache_hits": 400,
    "prefill_s": 30.0,
    "decode_s": 90.0,
    # TTFT: 6 within 0.5 s, 2 within 1 s, 2 within 2.5 s.
    "ttft_hist": {"bounds": [0.5, 1.0, 2.5], "counts": [6, 2, 2, 0], "sum": 8.0},
    # Inter-token gaps of its 500 tokens: 480 within 100 ms.
    "itl_hist": {"bounds": [0.05, 0.1, 0.2], "counts": [400, 80, 20, 0], "sum": 25.0},
    "e2e_hist": {"bounds": [10.0, 30.0], "counts": [9, 1, 0], "sum": 70.0},
}
EMBED = {
    "requests_ok": 20,
    "prompt_tokens": 2000,
    "running": 1.0,
    "prefill_s": 30.0,
    "decode_s": 0.0,
    "e2e_hist": {"bounds": [0.1, 0.2], "counts": [19, 1, 0], "sum": 1.5},
}


def inventory() -> dict[str, Any]:
    gpus = [
        {
            "uuid": f"e{i}",
            "node": "node-e",
            "index": i,
            "model": "NVIDIA H100 80GB HBM3",
            "memory_total_bytes": 80 * GIB,
        }
        for i in range(3)
    ]
    deployments = [
        {
            "name": "chat",
            "node": "node-e",
            "server": "vllm",
            "gpus": ["e0"],
            "labels": {"team": "a"},
        },
        {
            "name": "embed",
            "node": "node-e",
            "server": "tgi",
            "gpus": ["e1"],
            "labels": {"team": "b"},
        },
    ]
    return {"nodes": [{"name": "node-e"}], "gpus": gpus, "deployments": deployments}


def _inference(ts: datetime, minute: int) -> list[dict[str, Any]]:
    chat: dict[str, Any] = {"running": 0.0}
    if minute < 45:
        chat = dict(CHAT)
        # One preemption in the hour.
        chat["preemptions"] = 1 if minute == 10 else 0
    base = {"ts": ts.isoformat(), "interval_s": 60.0}
    return [
        {**base, "deployment": "chat", "gpu_memory": {"e0": 72 * GIB}, **chat},
        {**base, "deployment": "embed", "gpu_memory": {"e1": 40 * GIB}, **EMBED},
    ]


def store() -> None:
    """The two hours, ingested, priced and rolled up (built once per run, then copied)."""
    snapshot("economics fleet", _store)


def _store() -> None:
    agent = agent_create("economics")[0]
    start = H - timedelta(minutes=1)
    body: dict[str, Any] = {
        "schema_version": 1,
        "batch_id": "economics-1",
        "inventory": inventory(),
        "gpu_samples": [],
        "inference_samples": [],
    }
    for minute in range(121):
        ts = start + timedelta(minutes=minute)
        body["gpu_samples"] += [
            {"gpu": f"e{i}", "ts": ts.isoformat(), "util_gpu": 10.0, "power_w": 300.0}
            for i in range(3)
        ]
        if minute > 0:
            body["inference_samples"] += _inference(ts, (minute - 1) if minute <= 60 else 99)
    ingest_batch(agent, msgspec.json.encode(body), now=END + timedelta(days=1))
    price("2.00", valid_from=H.date() - timedelta(days=1), source="test price")
    rollup_pending(now=END + timedelta(hours=1))
