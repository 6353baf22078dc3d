"""The fleet that bench/pages.py times its pages over: nodes, GPUs, vLLM deployments,
their price, the login and a dozen anomalies.

These few hundred rows go through the ORM, as the app would make them; the
millions of samples that point at their ids are generated in pages_generate and
written with COPY by pages_seed.
"""

from __future__ import annotations

import argparse
import math
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

import numpy as np

USERNAME = "bench"
PASSWORD = "bench-pages-password"  # of a user in a throw-away database
GIB = 2**30
MIB = 2**20
RATE_USD = Decimal("2.5000")
GPUS_PER_NODE = 8
GPUS_PER_DEPLOYMENT = 6
TEAMS = ("search", "assistant", "ml-platform")
MODELS = (
    "meta-llama/Llama-3.1-8B-Instruct",
    "meta-llama/Llama-3.1-70B-Instruct",
    "Qwen/Qwen2.5-32B-Instruct",
    "mistralai/Mistral-7B-Instruct-v0.3",
)


@dataclass
class Fleet:
    gpu_ids: np.ndarray  # (G,) database ids
    uuids: list[str]
    owner: np.ndarray  # (G,) index into deployments, -1 for an idle GPU
    gpu_factor: np.ndarray  # (G,) how hard each GPU works for its deployment's load
    mem_used: np.ndarray  # (G,) bytes held: vLLM takes its share once, at start
    energy: np.ndarray  # (G,) energy counter just before the first sample of the first stretch
    deployment_ids: list[int]
    deployment_rps: np.ndarray  # (D,) requests/s at full load
    deployment_gpus: list[list[int]]  # GPU indices of each deployment
    memory_json: list[str]  # each deployment's {uuid: bytes}, as raw samples carry it
    pricing: str
    first_gpu: int = 0
    first_deployment: int = 0
    anomaly_id: int | None = None
    # The newest day written (epoch s of its start) and the energy counter before it.
    today: tuple[int, np.ndarray] | None = None


def create_fleet(args: argparse.Namespace, priced_from: date) -> Fleet:
    """Nodes, GPUs, deployments, their price and the login, through the ORM."""
    from django.contrib.auth import get_user_model

    from collectors.models import Deployment, Gpu, Node
    from costs.choices import NodePricingKind
    from costs.models import NodePrice

    rng = np.random.default_rng(7)
    nodes = [
        Node.objects.create(name=f"node-{n:02d}", hostname=f"node-{n:02d}.bench")
        for n in range(math.ceil(args.gpus / GPUS_PER_NODE))
    ]
    for node in nodes:
        NodePrice.objects.create(
            node=node,
            valid_from=priced_from,
            kind=NodePricingKind.CUSTOM,
            usd_per_gpu_hour=RATE_USD,
        )
    gpus = [
        Gpu.objects.create(
            node=nodes[i // GPUS_PER_NODE],
            uuid=f"GPU-{i:08x}-b3c4-4d5e-8f90-{i * 7919:012x}",
            index=i % GPUS_PER_NODE,
            model_name="NVIDIA H100 80GB HBM3",
            memory_total_bytes=80 * GIB,
        )
        for i in range(args.gpus)
    ]
    owner = np.full(args.gpus, -1)
    deployment_ids, deployment_gpus, memory_json = [], [], []
    for d in range(args.deployments):
        on_node = [i for i in range(args.gpus) if i // GPUS_PER_NODE == d]
        mine = on_node[:GPUS_PER_DEPLOYMENT]
        dep = Deployment.objects.create(
            node=nodes[d],
            name=f"serve-{d:02d}",
            model=MODELS[d % len(MODELS)],
            server_kind="vllm",
            endpoint=f"http://node-{d:02d}.bench:8000/metrics",
            labels={"team": TEAMS[d % len(TEAMS)], "project": f"project-{d % 4}"},
        )
        dep.gpus.set([gpus[i] for i in mine])
        owner[mine] = d
        deployment_ids.append(dep.pk)
        deployment_gpus.append(mine)
    mem_used = np.where(
        owner >= 0,
        72 * GIB + rng.integers(0, 256, args.gpus) * MIB,
        512 * MIB + rng.integers(0, 16, args.gpus) * MIB,
    ).astype(np.int64)
    for mine in deployment_gpus:
        memory_json.append(
            "{" + ", ".join(f'"{gpus[i].uuid}": {int(mem_used[i])}' for i in mine) + "}"
        )
    get_user_model().objects.create_superuser(USERNAME, "bench@example.com", PASSWORD)
    return Fleet(
        gpu_ids=np.array([g.pk for g in gpus], dtype=np.int64),
        uuids=[g.uuid for g in gpus],
        owner=owner,
        gpu_factor=rng.uniform(0.9, 1.0, args.gpus),
        mem_used=mem_used,
        energy=5e10 + rng.uniform(0, 1e9, args.gpus),
        deployment_ids=deployment_ids,
        deployment_rps=rng.uniform(8, 16, args.deployments),
        deployment_gpus=deployment_gpus,
        memory_json=memory_json,
        pricing=f"node price: ${RATE_USD}/GPU-h from {priced_from}",
        first_gpu=int(gpus[0].pk),
        first_deployment=deployment_ids[0],
    )


def create_anomalies(fleet: Fleet, start: datetime, end: datetime) -> int:
    """A dozen anomalies over the stretch, newest first; returns the id of a GPU one."""
    from anomaly.models import Anomaly
    from collectors.models import Gpu

    node_id = Gpu.objects.get(pk=fleet.first_gpu).node_id
    span = end - start
    rows = []
    specs = [
        ("gpu.util", "dip", "critical", "open"),
        ("deployment.ttft_p95", "spike", "warning", "open"),
        ("fleet.cost_per_hour", "level_shift", "info", "acknowledged"),
        ("gpu.power", "spike", "warning", "open"),
        ("deployment.error_rate", "spike", "critical", "resolved"),
        ("gpu.temperature", "drift", "warning", "open"),
        ("node.presence", "missing", "critical", "resolved"),
        ("deployment.cost_per_hour", "level_shift", "info", "open"),
        ("deployment.tokens_per_s", "dip", "warning", "false_positive"),
        ("gpu.util", "stuck", "warning", "open"),
        ("deployment.e2e_p95", "spike", "warning", "open"),
        ("gpu.multivariate", "multivariate", "info", "open"),
    ]
    for i, (metric, kind, severity, status) in enumerate(specs):
        # Entities in turn; the first row (the newest, on the first GPU) is the one timed.
        entity = {
            "gpu": {"gpu_id": int(fleet.gpu_ids[i % len(fleet.gpu_ids)])},
            "deployment": {"deployment_id": fleet.deployment_ids[i % len(fleet.deployment_ids)]},
            "node": {"node_id": node_id},
            "fleet": {},
        }[metric.split(".")[0]]
        # Newest ends an hour before the data does; the rest spread back over the stretch.
        at = end - timedelta(hours=1) - span * i / (len(specs) + 1)
        rows.append(
            Anomaly(
                metric=metric,
                detector="seasonal",
                kind=kind,
                start=at - timedelta(minutes=25),
                end=at,
                score=4.0 + i % 5,
                severity=severity,
                observed=12.0 + i,
                expected_low=40.0,
                expected_high=80.0,
                explanation=f"bench: {metric} outside its usual range for 25 minutes",
                status=status,
                **entity,
            )
        )
    created = Anomaly.objects.bulk_create(rows)
    return int(created[0].pk)
