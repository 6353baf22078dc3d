"""What each entity is called, where its page is, its labels, and whether a rule covers it."""

from dataclasses import dataclass, field
from typing import Any

from alerts.models import Rule
from collectors.models import Agent, Deployment, Gpu, Node


@dataclass
class Entity:
    label: str
    labels: dict[str, str]
    node_id: int | None = None
    deployment_ids: set[int] = field(default_factory=set)  # deployments on a GPU
    gpu_ids: set[int] = field(default_factory=set)  # GPUs of a deployment


@dataclass
class Inventory:
    """The fleet read once per evaluation: a rule's scope is checked in memory."""

    entities: dict[str, Entity]

    @classmethod
    def load(cls) -> "Inventory":
        entities: dict[str, Entity] = {"fleet": Entity("the fleet", {})}
        nodes = {n.pk: n for n in Node.objects.select_related("agent")}
        for node in nodes.values():
            entities[f"node:{node.pk}"] = Entity(
                f"node {node.name}", dict(node.labels or {}), node.pk
            )
        nodes_of: dict[int, list[int]] = {}
        for node in nodes.values():
            if node.agent_id is not None:
                nodes_of.setdefault(node.agent_id, []).append(node.pk)
        for agent in Agent.objects.all():
            node_ids = nodes_of.get(agent.pk, [])
            labels: dict[str, str] = {}
            for node_id in node_ids:
                labels.update(nodes[node_id].labels or {})
            entities[f"agent:{agent.pk}"] = Entity(
                f"agent {agent.name}", labels, node_ids[0] if len(node_ids) == 1 else None
            )
        for gpu in Gpu.objects.all():
            host = nodes.get(gpu.node_id)
            entities[f"gpu:{gpu.pk}"] = Entity(
                f"GPU {host.name if host else '?'} #{gpu.index} {gpu.model_name}".strip(),
                dict(host.labels or {}) if host else {},
                gpu.node_id,
            )
        through = Deployment.gpus.through.objects.values_list("deployment_id", "gpu_id")
        gpus_of: dict[int, set[int]] = {}
        for deployment_id, gpu_id in through:
            gpus_of.setdefault(deployment_id, set()).add(gpu_id)
        for dep in Deployment.objects.all():
            host = nodes.get(dep.node_id)
            entities[f"deployment:{dep.pk}"] = Entity(
                f"deployment {dep.name}" + (f" on {host.name}" if host else ""),
                dict(dep.labels or {}),
                dep.node_id,
                gpu_ids=gpus_of.get(dep.pk, set()),
            )
            for gpu_id in gpus_of.get(dep.pk, ()):
                serving = entities.get(f"gpu:{gpu_id}")
                if serving is not None:
                    serving.deployment_ids.add(dep.pk)
                    # A GPU carries the labels of what it serves: team=search finds its GPUs.
                    for key, value in (dep.labels or {}).items():
                        serving.labels.setdefault(key, value)
        return cls(entities)

    def label(self, key: str) -> str:
        entity = self.entities.get(key)
        return entity.label if entity else key

    def labels(self, key: str) -> dict[str, Any]:
        entity = self.entities.get(key)
        return dict(entity.labels) if entity else {}

    def covers(self, rule: Rule, key: str) -> bool:
        """Whether `key` is within the rule's entity scope and label selector."""
        kind, _, raw = key.partition(":")
        entity = self.entities.get(key)
        pk = int(raw) if raw.isdigit() else None
        if rule.gpu_id is not None and not (kind == "gpu" and pk == rule.gpu_id):
            return False
        if rule.node_id is not None and (entity is None or entity.node_id != rule.node_id):
            return False
        if rule.deployment_id is not None:
            own = kind == "deployment" and pk == rule.deployment_id
            serving = (
                kind == "gpu" and entity is not None and rule.deployment_id in entity.deployment_ids
            )
            if not (own or serving):
                return False
        if rule.labels:
            have = entity.labels if entity else {}
            # Label values compare as text: a label stored as 3 matches "3".
            if any(str(have.get(k)) != str(v) for k, v in rule.labels.items()):
                return False
        return True
