"""Bring the fleet tables in line with a batch's inventory, and resolve the names
that samples use (GPU uuid, deployment name) to row ids.

An agent may only touch nodes it owns (or unowned ones, which it then claims),
with their GPUs and deployments. Rows are written only when something changed,
in a sorted order, so that two batches creating the same rows cannot deadlock.
A batch costs a fixed number of queries, whatever the size of its inventory.
"""

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from django.db.models import F

from collectors.constants import MAX_REPORTED_ERRORS
from collectors.models import Agent, Deployment, Gpu, Node
from collectors.schema import DeploymentIn, GpuIn, Inventory

Errors = list[dict[str, str]]


class InventoryError(Exception):
    def __init__(self, errors: Errors) -> None:
        super().__init__(errors[0]["message"])
        self.errors = errors[:MAX_REPORTED_ERRORS]


@dataclass
class InventoryRefs:
    agent_id: int
    node_ids: dict[str, int] = field(default_factory=dict)
    gpu_ids: dict[str, int] = field(default_factory=dict)
    gpu_nodes: dict[str, int] = field(default_factory=dict)
    # (node name, deployment name) -> id, for the deployments named in the batch.
    deployment_ids: dict[tuple[str, str], int] = field(default_factory=dict)


def _error(path: str, message: str) -> dict[str, str]:
    return {"field": path, "message": message}


def _unknown(path: str, what: str, name: str) -> dict[str, str]:
    return _error(path, f"Unknown {what} {name!r}: list it in this batch's inventory first")


def _not_yours(path: str, what: str, name: str) -> dict[str, str]:
    return _error(path, f"{what} {name!r} is reported by another agent")


def _raise_if(errors: Errors) -> None:
    if errors:
        raise InventoryError(errors)


def upsert_inventory(inventory: Inventory, agent: Agent) -> InventoryRefs:
    _raise_if(_duplicates(inventory))
    refs = InventoryRefs(agent_id=agent.pk)
    _upsert_nodes(inventory, refs)
    _upsert_gpus(inventory, refs)
    _upsert_deployments(inventory, refs)
    return refs


def _duplicates(inventory: Inventory) -> Errors:
    errors: Errors = []
    lists: list[tuple[str, list[tuple[object, str]]]] = [
        ("nodes", [(n.name, n.name) for n in inventory.nodes]),
        ("gpus", [(g.uuid, g.uuid) for g in inventory.gpus]),
        (
            "deployments",
            [((d.node, d.name), f"{d.name} on {d.node}") for d in inventory.deployments],
        ),
    ]
    for name, keys in lists:
        seen: set[object] = set()
        for index, (key, label) in enumerate(keys):
            if key in seen:
                errors.append(_error(f"inventory.{name}[{index}]", f"{label!r} is listed twice"))
            seen.add(key)
    return errors


def _upsert_nodes(inventory: Inventory, refs: InventoryRefs) -> None:
    wanted = {n.name: n for n in inventory.nodes}
    named = [(f"inventory.gpus[{i}].node", g.node) for i, g in enumerate(inventory.gpus)]
    named += [
        (f"inventory.deployments[{i}].node", d.node) for i, d in enumerate(inventory.deployments)
    ]
    names = set(wanted) | {name for _, name in named}
    if not names:
        return
    fields = ("hostname", "simulated", "labels")
    stored = {
        row[0]: row[1:]
        for row in Node.objects.filter(name__in=names).values_list(
            "name", "pk", "agent_id", *fields
        )
    }
    errors: Errors = []
    for index, node in enumerate(inventory.nodes):
        if node.name in stored and stored[node.name][1] not in (None, refs.agent_id):
            errors.append(_not_yours(f"inventory.nodes[{index}].name", "Node", node.name))
    for path, name in named:
        if name in wanted:
            continue
        if name not in stored:
            errors.append(_unknown(path, "node", name))
        elif stored[name][1] is None:
            message = f"Node {name!r} has no agent: list it in inventory.nodes to claim it"
            errors.append(_error(path, message))
        elif stored[name][1] != refs.agent_id:
            errors.append(_not_yours(path, "Node", name))
    _raise_if(errors)
    # Claim unowned nodes with one conditional UPDATE, so two agents cannot both win.
    unowned = sorted(stored[n][0] for n in wanted if n in stored and stored[n][1] is None)
    if unowned:
        claimed = Node.objects.filter(pk__in=unowned, agent__isnull=True)
        if claimed.update(agent_id=refs.agent_id) != len(unowned):
            message = "Another agent claimed one of these nodes at the same moment"
            raise InventoryError([_error("inventory.nodes", message)])
    changed = []
    for name, node in wanted.items():
        values = (node.hostname, node.simulated, node.labels)
        if name in stored and stored[name][2:] != values:
            changed.append(Node(pk=stored[name][0], **dict(zip(fields, values, strict=True))))
    if changed:
        Node.objects.bulk_update(sorted(changed, key=lambda n: n.pk), list(fields))
    refs.node_ids = {name: row[0] for name, row in stored.items()}
    new = sorted(name for name in wanted if name not in stored)
    if new:
        # ignore_conflicts: another agent may create the same node at the same moment;
        # the read that follows tells which of us owns it.
        Node.objects.bulk_create(
            [
                Node(name=n, agent_id=refs.agent_id, **{f: getattr(wanted[n], f) for f in fields})
                for n in new
            ],
            ignore_conflicts=True,
        )
        created = Node.objects.filter(name__in=new).values_list("name", "pk", "agent_id")
        for name, pk, owner in created:
            if owner != refs.agent_id:
                errors.append(_not_yours("inventory.nodes", "Node", name))
            refs.node_ids[name] = pk
        _raise_if(errors)


def _stored_gpus(uuids: set[str]) -> dict[str, tuple[int, int, int | None]]:
    """uuid -> (pk, node id, owning agent id) for the stored GPUs among `uuids`."""
    rows = Gpu.objects.filter(uuid__in=uuids).values_list("uuid", "pk", "node_id", "node__agent_id")
    return {uuid: (pk, node, owner) for uuid, pk, node, owner in rows}


def _upsert_gpus(inventory: Inventory, refs: InventoryRefs) -> None:
    wanted = {g.uuid: g for g in inventory.gpus}
    listed = {u for d in inventory.deployments for u in d.gpus or ()}
    if not wanted and not listed:
        return
    fields = [
        "node_id",
        "index",
        "model_name",
        "memory_total_bytes",
        "mig_profile",
        "gpu_fraction",
        "util_from",
    ]
    # Tuples, not model instances: a node lists its GPUs in every batch, and
    # building a hundred Gpu objects to find that nothing changed cost more than
    # the rest of the inventory work.
    stored = {
        row[0]: row[1:]
        for row in Gpu.objects.filter(uuid__in=set(wanted) | listed).values_list(
            "uuid", "pk", "node__agent_id", *fields
        )
    }
    errors: Errors = []
    new, changed, moved = [], [], []
    for index, (uuid, given) in enumerate(wanted.items()):
        values = _gpu_values(given, refs)
        row = stored.get(uuid)
        if row is None:
            new.append(Gpu(uuid=uuid, **dict(zip(fields, values, strict=True))))
        elif row[1] not in (None, refs.agent_id):
            errors.append(_not_yours(f"inventory.gpus[{index}].uuid", "GPU", uuid))
        elif row[2:] != values:
            changed.append(Gpu(pk=row[0], **dict(zip(fields, values, strict=True))))
            if row[2] != values[0]:
                moved.append(row[0])
        refs.gpu_nodes[uuid] = values[0]
    _raise_if(errors)
    for uuid, row in stored.items():
        refs.gpu_ids[uuid] = row[0]
        refs.gpu_nodes.setdefault(uuid, row[2])
    if new:
        Gpu.objects.bulk_create(sorted(new, key=lambda g: g.uuid), ignore_conflicts=True)
        for uuid, (pk, node, owner) in _stored_gpus({g.uuid for g in new}).items():
            if owner != refs.agent_id:
                errors.append(_not_yours("inventory.gpus", "GPU", uuid))
            elif node != refs.gpu_nodes[uuid]:
                # Another batch of ours created it on another node a moment ago:
                # this batch came later, so its node wins.
                values = _gpu_values(wanted[uuid], refs)
                changed.append(Gpu(pk=pk, **dict(zip(fields, values, strict=True))))
                moved.append(pk)
            refs.gpu_ids[uuid] = pk
        _raise_if(errors)
    if changed:
        Gpu.objects.bulk_update(sorted(changed, key=lambda g: g.pk), fields)
    if moved:
        # A GPU that changed node no longer serves the deployments of its old node.
        links = Deployment.gpus.through.objects.filter(gpu_id__in=moved)
        links.exclude(deployment__node_id=F("gpu__node_id")).delete()


def _gpu_values(given: GpuIn, refs: InventoryRefs) -> tuple[Any, ...]:
    return (
        refs.node_ids[given.node],
        given.index,
        given.model,
        given.memory_total_bytes,
        given.mig_profile,
        given.gpu_fraction,
        given.util_from,
    )


def _upsert_deployments(inventory: Inventory, refs: InventoryRefs) -> None:
    wanted = {(d.node, d.name): d for d in inventory.deployments}
    if not wanted:
        return
    errors: Errors = []
    for index, dep in enumerate(inventory.deployments):
        for uuid in dep.gpus or ():
            if uuid not in refs.gpu_ids:
                errors.append(_unknown(f"inventory.deployments[{index}].gpus", "GPU", uuid))
            elif refs.gpu_nodes[uuid] != refs.node_ids[dep.node]:
                message = f"GPU {uuid!r} is not on node {dep.node!r}"
                errors.append(_error(f"inventory.deployments[{index}].gpus", message))
    _raise_if(errors)
    fields = ("model", "server_kind", "endpoint", "labels")
    by_key = {(refs.node_ids[node], name): (node, name) for node, name in wanted}
    stored = {
        (row[1], row[2]): (row[0], row[3:])
        for row in Deployment.objects.filter(
            node_id__in={key[0] for key in by_key}, name__in={key[1] for key in by_key}
        ).values_list("pk", "node_id", "name", *fields)
        if (row[1], row[2]) in by_key
    }
    changed, new = [], []
    for key, (node, name) in sorted(by_key.items()):
        given = wanted[(node, name)]
        values = (given.model, given.server, given.endpoint, given.labels)
        if key not in stored:
            new.append(
                Deployment(node_id=key[0], name=name, **dict(zip(fields, values, strict=True)))
            )
        elif stored[key][1] != values:
            changed.append(Deployment(pk=stored[key][0], **dict(zip(fields, values, strict=True))))
    if changed:
        Deployment.objects.bulk_update(sorted(changed, key=lambda d: d.pk), list(fields))
    if new:
        Deployment.objects.bulk_create(new, ignore_conflicts=True)
        stored_ids = Deployment.objects.filter(
            node_id__in={d.node_id for d in new}, name__in={d.name for d in new}
        ).values_list("node_id", "name", "pk")
        stored.update({(node, name): (pk, ()) for node, name, pk in stored_ids})
    for key, (node, name) in by_key.items():
        refs.deployment_ids[(node, name)] = stored[key][0]
    _sync_deployment_gpus(wanted, refs)


def _sync_deployment_gpus(wanted: dict[tuple[str, str], DeploymentIn], refs: InventoryRefs) -> None:
    """Make each listed deployment's GPU set what the batch says, in two queries at most."""
    through = Deployment.gpus.through
    desired = {
        refs.deployment_ids[key]: {refs.gpu_ids[u] for u in dep.gpus}
        for key, dep in wanted.items()
        if dep.gpus is not None
    }
    if not desired:
        return
    current: dict[int, set[int]] = defaultdict(set)
    rows = through.objects.filter(deployment_id__in=desired).values_list("deployment_id", "gpu_id")
    for deployment_id, gpu_id in rows:
        current[deployment_id].add(gpu_id)
    stale = sorted(pk for pk, gpus in desired.items() if current[pk] != gpus)
    if not stale:
        return
    # Only a change takes locks: two batches changing the same deployment's GPUs
    # would otherwise each delete what they read and insert over each other.
    list(Deployment.objects.select_for_update().filter(pk__in=stale).order_by("pk").values("pk"))
    through.objects.filter(deployment_id__in=stale).delete()
    links = [through(deployment_id=pk, gpu_id=gpu) for pk in stale for gpu in sorted(desired[pk])]
    through.objects.bulk_create(links, ignore_conflicts=True)


def resolve_gpus(refs: InventoryRefs, uuids: list[str]) -> dict[str, int]:
    missing = {u for u in uuids if u not in refs.gpu_ids}
    ids = dict(refs.gpu_ids)
    owners: dict[str, int | None] = {}
    if missing:
        for uuid, (pk, _, owner) in _stored_gpus(missing).items():
            owners[uuid] = owner
            if owner == refs.agent_id:
                ids[uuid] = pk
    errors: Errors = []
    reported: set[str] = set()
    for index, uuid in enumerate(uuids):
        if uuid in ids or uuid in reported:
            continue
        reported.add(uuid)
        path = f"gpu_samples[{index}].gpu"
        if uuid not in owners:
            errors.append(_unknown(path, "GPU", uuid))
        elif owners[uuid] is None:
            message = f"GPU {uuid!r} is on a node no agent owns: list its node to claim it"
            errors.append(_error(path, message))
        else:
            errors.append(_not_yours(path, "GPU", uuid))
    _raise_if(errors)
    return ids


def resolve_deployments(refs: InventoryRefs, keys: list[tuple[str | None, str]]) -> list[int]:
    """The deployment id for each (node or None, name) a sample names, in order.

    Without a node, a name must be unique among the batch's deployments, or else
    among the stored deployments of this agent's nodes.
    """
    listed: dict[str, list[tuple[str, int]]] = defaultdict(list)
    for (node, name), pk in refs.deployment_ids.items():
        listed[name].append((node, pk))
    names = {name for _, name in keys}
    stored: dict[str, list[tuple[str, int]]] = defaultdict(list)
    if any(
        (node, name) not in refs.deployment_ids and (node is not None or name not in listed)
        for node, name in keys
    ):
        rows = Deployment.objects.filter(name__in=names, node__agent_id=refs.agent_id)
        for node, name, pk in rows.values_list("node__name", "name", "pk"):
            stored[name].append((node, pk))
    out: list[int] = []
    errors: Errors = []
    for index, (wanted_node, name) in enumerate(keys):
        candidates = listed.get(name) or stored.get(name, [])
        if wanted_node is not None:
            both = listed.get(name, []) + stored.get(name, [])
            candidates = [c for c in both if c[0] == wanted_node]
        pks = {pk for _, pk in candidates}
        if len(pks) == 1:
            out.append(pks.pop())
            continue
        if not pks:
            message = f"Unknown deployment {name!r}: list it in this batch's inventory first"
        else:
            message = f"Deployment {name!r} runs on several nodes: give the sample's node"
        errors.append(_error(f"inference_samples[{index}].deployment", message))
        if len(errors) >= MAX_REPORTED_ERRORS:
            break
    _raise_if(errors)
    return out


def check_gpu_memory(
    refs: InventoryRefs, deployment_ids: list[int], memories: list[dict[str, int] | None]
) -> None:
    """A deployment may claim memory only on its own node's GPUs: the memory it
    reports decides whose cost each GPU's hour becomes (costs/attribution.py)."""
    wanted = {uuid for memory in memories if memory for uuid in memory}
    if not wanted:
        return
    gpu_nodes = {uuid: refs.gpu_nodes[uuid] for uuid in wanted if uuid in refs.gpu_nodes}
    if wanted - gpu_nodes.keys():
        for uuid, (_, node, _) in _stored_gpus(wanted - gpu_nodes.keys()).items():
            gpu_nodes[uuid] = node
    dep_nodes = {pk: refs.node_ids[node] for (node, _), pk in refs.deployment_ids.items()}
    claiming = {pk for pk, memory in zip(deployment_ids, memories, strict=True) if memory}
    if claiming - dep_nodes.keys():
        rows = Deployment.objects.filter(pk__in=claiming - dep_nodes.keys())
        dep_nodes.update(rows.values_list("pk", "node_id"))
    errors: Errors = []
    for index, (pk, memory) in enumerate(zip(deployment_ids, memories, strict=True)):
        for uuid in memory or ():
            if uuid not in gpu_nodes:
                message = f"Unknown GPU {uuid!r}: list it in this batch's inventory first"
            elif gpu_nodes[uuid] != dep_nodes[pk]:
                message = f"GPU {uuid!r} is not on this deployment's node"
            else:
                continue
            errors.append(_error(f"inference_samples[{index}].gpu_memory.{uuid}", message))
            if len(errors) >= MAX_REPORTED_ERRORS:
                raise InventoryError(errors)
    _raise_if(errors)
