"""A small, hand-checkable fleet stored through the real ingest service.

node-a: two H100 SXM at a test price of $2.00/GPU-h, 500 W each, energy counter.
  a0: `chat` alone.  a1: `embed` (20 GiB) and `rerank` (40 GiB) of 80 GiB.
node-b: one L4, on-premises ($8,766 over 1 year = $1/h, 100 W at $0.10/kWh, PUE 1.5),
  no deployment.
Samples every minute; one sample before the period so its first minute counts.
"""

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import msgspec

from collectors.ingest import ingest_batch
from collectors.models import Agent, Node
from collectors.services import agent_create
from costs.models import NodePrice
from tests.builders.prices import price
from tests.snapshots import snapshot

GIB = 2**30
DAY = datetime(2026, 11, 2, tzinfo=UTC)  # a Monday


def inventory() -> dict[str, Any]:
    gpus = [
        {"uuid": "a0", "node": "node-a", "index": 0, "model": "NVIDIA H100 80GB HBM3"},
        {"uuid": "a1", "node": "node-a", "index": 1, "model": "NVIDIA H100 80GB HBM3"},
        {"uuid": "b0", "node": "node-b", "index": 0, "model": "NVIDIA L4"},
    ]
    for gpu in gpus:
        gpu["memory_total_bytes"] = (24 if gpu["uuid"] == "b0" else 80) * GIB
    deployments = [
        {"name": "chat", "node": "node-a", "gpus": ["a0"], "labels": {"team": "search"}},
        {"name": "embed", "node": "node-a", "gpus": ["a1"], "labels": {"team": "search"}},
        {"name": "rerank", "node": "node-a", "gpus": ["a1"], "labels": {"team": "ml"}},
    ]
    nodes = [{"name": "node-a"}, {"name": "node-b"}]
    return {"nodes": nodes, "gpus": gpus, "deployments": deployments}


def gpu_samples(ts: datetime, minute: int) -> list[dict[str, Any]]:
    rows = []
    for uuid in ("a0", "a1"):
        rows.append(
            {
                "gpu": uuid,
                "ts": ts.isoformat(),
                "util_gpu": 50.0,
                "power_w": 500.0,
                "temp_c": 60.0 + minute % 10,
                "energy_j": 1e9 + 30_000.0 * minute,
                "mem_used_bytes": 60 * GIB,
                "mem_total_bytes": 80 * GIB,
                "sm_clock_mhz": 1500 + 10 * (minute % 2),
            }
        )
    rows.append(
        {
            "gpu": "b0",
            "ts": ts.isoformat(),
            "util_gpu": 0.0,
            "power_w": 100.0,
            "mem_total_bytes": 24 * GIB,
        }
    )
    return rows


def inference_samples(ts: datetime) -> list[dict[str, Any]]:
    def sample(name: str, requests: int, prompt: int, generated: int, memory: dict) -> dict:
        return {
            "deployment": name,
            "ts": ts.isoformat(),
            "interval_s": 60.0,
            "requests_ok": requests,
            "prompt_tokens": prompt,
            "generation_tokens": generated,
            "gpu_memory": memory,
        }

    return [
        sample("chat", 10, 1000, 500, {"a0": 72 * GIB}),
        sample("embed", 0, 0, 0, {"a1": 20 * GIB}),
        sample("rerank", 5, 2000, 0, {"a1": 40 * GIB}),
    ]


def store_day(day: datetime = DAY, agent: Agent | None = None, hours: int = 24) -> Agent:
    """`hours` hours of the fleet from `day`, through the ingest service; with no `agent`,
    by a new one (built once per run, then copied)."""
    if agent is None:
        return snapshot(("hand-checked day", day, hours), lambda: _store_day(day, None, hours))
    return _store_day(day, agent, hours)


def _store_day(day: datetime, agent: Agent | None, hours: int) -> Agent:
    agent = agent or agent_create("hand-checked")[0]
    start = day - timedelta(minutes=1)
    minutes = hours * 60 + 1
    for first in range(0, minutes, 360):
        body: dict[str, Any] = {
            "schema_version": 1,
            "batch_id": f"{day:%Y%m%d}-{first}",
            "inventory": inventory(),
            "gpu_samples": [],
            "inference_samples": [],
        }
        for minute in range(first, min(first + 360, minutes)):
            ts = start + timedelta(minutes=minute)
            body["gpu_samples"] += gpu_samples(ts, minute)
            if minute > 0:  # the predecessor minute has GPU samples only
                body["inference_samples"] += inference_samples(ts)
        ingest_batch(agent, msgspec.json.encode(body), now=day + timedelta(days=2))
    return agent


def set_prices() -> None:
    price("2.00", valid_from=DAY.date() - timedelta(days=1), source="test price")
    NodePrice.objects.create(
        node=Node.objects.get(name="node-b"),
        valid_from=DAY.date() - timedelta(days=30),
        kind="on_prem",
        purchase_usd_per_gpu=Decimal("8766"),
        amortize_years=Decimal("1"),
        usd_per_kwh=Decimal("0.10"),
        pue=Decimal("1.5"),
    )
