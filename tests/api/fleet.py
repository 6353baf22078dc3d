"""Two nodes, three GPUs, three deployments and their agents (make_fleet), with a day of
samples and cost records at T0, for the list, series and export APIs."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from collectors.models import Deployment, Gpu, GpuSample, Node
from collectors.services import agent_create
from costs.models import CostRecord

V1 = "/api/v1/"
FLEET = ["nodes", "gpus", "deployments", "agents"]
SERIES = ["samples/gpu", "samples/inference", "rollups/gpu", "rollups/inference", "cost-records"]
T0 = datetime(2026, 3, 2, tzinfo=UTC)  # a Monday, well inside any range test


def bearer(token: str) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}


def make_fleet() -> dict[str, Any]:
    """node-1 (rack r1): GPUs g-0, g-1; chat (team search) on g-0, embed (team ads) on g-1.
    node-2 (team infra): GPU g-2, batch (no labels) on it. Each node has its agent."""
    agents = [agent_create(f"agent-{n}")[0] for n in (1, 2)]
    node1 = Node.objects.create(name="node-1", agent=agents[0], labels={"rack": "r1"})
    node2 = Node.objects.create(name="node-2", agent=agents[1], labels={"team": "infra"})
    gpus = [
        Gpu.objects.create(node=node, uuid=f"g-{i}", index=i % 2, model_name="NVIDIA H100")
        for i, node in enumerate([node1, node1, node2])
    ]
    chat = Deployment.objects.create(node=node1, name="chat", labels={"team": "search"})
    embed = Deployment.objects.create(node=node1, name="embed", labels={"team": "ads"})
    batch = Deployment.objects.create(node=node2, name="batch")
    chat.gpus.add(gpus[0])
    embed.gpus.add(gpus[1])
    batch.gpus.add(gpus[2])
    return {
        "agents": agents,
        "nodes": [node1, node2],
        "gpus": gpus,
        "deployments": [chat, embed, batch],
    }


def errors(response: Any) -> dict[str, str]:
    assert response.status_code == 400, response.content
    return {error["field"]: error["message"] for error in response.json()["errors"]}


def day(**params: Any) -> dict[str, Any]:
    """The day of T0, plus other parameters."""
    return {"start": "2026-03-02T00:00:00Z", "end": "2026-03-03T00:00:00Z", **params}


def gpu_samples(fleet: dict[str, Any], minutes: int = 3) -> None:
    GpuSample.objects.bulk_create(
        GpuSample(gpu=gpu, ts=T0 + timedelta(minutes=m), util_gpu=10.0 * m + i, power_w=100.0)
        for m in range(minutes)
        for i, gpu in enumerate(fleet["gpus"])
    )


def cost_records(fleet: dict[str, Any]) -> None:
    """Hour T0: g-0 split between chat and idle; g-2 all batch."""
    g0, _, g2 = fleet["gpus"]
    chat, _, batch = fleet["deployments"]
    common = {"hour": T0, "gpu_hours": 0.5, "rate_usd_per_hour": Decimal("2"), "pricing": "t"}
    CostRecord.objects.create(gpu=g0, deployment=chat, usd=Decimal("1.25"), **common)
    CostRecord.objects.create(gpu=g0, deployment=None, usd=Decimal("0.75"), **common)
    CostRecord.objects.create(gpu=g2, deployment=batch, usd=Decimal("2"), **common)
