"""Nodes, GPUs and deployments created directly as rows (no ingest), for the tests that
need a fleet to hang hourly rows, prices or recommendations on."""

from typing import Any

from collectors.models import Deployment, DeploymentSettings, Gpu, Node


def node(name: str = "gpu-node-1", **fields: Any) -> Node:
    """The node called `name`, created once."""
    return Node.objects.get_or_create(name=name, defaults=fields)[0]


def deployment(
    name: str = "chat-8b",
    node_name: str = "gpu-node-1",
    uuids: list[str] | None = None,
    gpu_model: str = "H100 SXM",
    settings: dict[str, Any] | None = None,
    **fields: Any,
) -> Deployment:
    """A deployment on its own GPUs on `node_name`: one per uuid in `uuids` (by default one,
    `GPU-<name>-<node>`), indexed from 0; `settings`, when given, are stored as its
    DeploymentSettings; `fields` go on the Deployment (server_kind, model, labels ...)."""
    host = node(node_name)
    dep = Deployment.objects.create(node=host, name=name, **fields)
    for index, uuid in enumerate(uuids or [f"GPU-{name}-{node_name}"]):
        dep.gpus.add(Gpu.objects.create(node=host, uuid=uuid, index=index, model_name=gpu_model))
    if settings is not None:
        DeploymentSettings.objects.create(deployment=dep, **settings)
    return dep
