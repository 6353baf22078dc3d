"""Bring the fleet tables in line with a batch's inventory, and resolve the names
that samples use (GPU uuid, deployment name) to row ids.

Rows are only written when something changed, so the usual batch, whose
inventory matches what is stored, costs reads only.
"""

from dataclasses import dataclass, field

from collectors.constants import MAX_REPORTED_ERRORS
from collectors.models import Deployment, Gpu, Node
from collectors.schema import Inventory


class InventoryError(Exception):
    def __init__(self, errors: list[dict[str, str]]) -> None:
        super().__init__(errors[0]["message"])
        self.errors = errors


@dataclass
class InventoryRefs:
    node_ids: dict[str, int] = field(default_factory=dict)
    gpu_ids: dict[str, int] = field(default_factory=dict)
    # (node name, deployment name) -> id, for the deployments named in the batch.
    deployment_ids: dict[tuple[str, str], int] = field(default_factory=dict)


def upsert_inventory(inventory: Inventory) -> InventoryRefs:
    refs = InventoryRefs()
    errors: list[dict[str, str]] = []
    refs.node_ids = _upsert_nodes(inventory)
    _resolve_node_names(inventory, refs.node_ids, errors)
    if errors:
        raise InventoryError(errors)
    refs.gpu_ids = _upsert_gpus(inventory, refs.node_ids)
    known_gpus = _gpu_ids(refs.gpu_ids, [u for d in inventory.deployments for u in d.gpus])
    for i, dep in enumerate(inventory.deployments):
        for uuid in dep.gpus:
            if uuid not in known_gpus:
                errors.append(_unknown(f"inventory.deployments[{i}].gpus", "GPU", uuid))
    if errors:
        raise InventoryError(errors[:MAX_REPORTED_ERRORS])
    refs.deployment_ids = _upsert_deployments(inventory, refs.node_ids, known_gpus)
    return refs


def _unknown(path: str, what: str, name: str) -> dict[str, str]:
    return {
        "field": path,
        "message": f"Unknown {what} {name!r}: list it in this batch's inventory first",
    }


def _upsert_nodes(inventory: Inventory) -> dict[str, int]:
    wanted = {n.name: n for n in inventory.nodes}
    if not wanted:
        return {}
    existing = {n.name: n for n in Node.objects.filter(name__in=wanted)}
    new = [
        Node(name=n.name, hostname=n.hostname, simulated=n.simulated, labels=n.labels)
        for name, n in wanted.items()
        if name not in existing
    ]
    changed = []
    for name, node in existing.items():
        given = wanted[name]
        if (node.hostname, node.simulated, node.labels) != (
            given.hostname,
            given.simulated,
            given.labels,
        ):
            node.hostname, node.simulated, node.labels = (
                given.hostname,
                given.simulated,
                given.labels,
            )
            changed.append(node)
    if changed:
        Node.objects.bulk_update(changed, ["hostname", "simulated", "labels"])
    ids = {name: node.pk for name, node in existing.items()}
    if new:
        # ignore_conflicts: another agent may create the same node at the same moment.
        Node.objects.bulk_create(new, ignore_conflicts=True)
        ids.update(Node.objects.filter(name__in=[n.name for n in new]).values_list("name", "pk"))
    return ids


def _resolve_node_names(
    inventory: Inventory, node_ids: dict[str, int], errors: list[dict[str, str]]
) -> None:
    """Add to node_ids the stored nodes that GPUs and deployments name outside `nodes`."""
    named = [(f"inventory.gpus[{i}].node", g.node) for i, g in enumerate(inventory.gpus)]
    named += [
        (f"inventory.deployments[{i}].node", d.node) for i, d in enumerate(inventory.deployments)
    ]
    missing = {name for _, name in named if name not in node_ids}
    if missing:
        node_ids.update(Node.objects.filter(name__in=missing).values_list("name", "pk"))
    errors.extend(_unknown(path, "node", name) for path, name in named if name not in node_ids)


def _upsert_gpus(inventory: Inventory, node_ids: dict[str, int]) -> dict[str, int]:
    wanted = {g.uuid: g for g in inventory.gpus}
    if not wanted:
        return {}
    fields = ["node_id", "index", "model_name", "memory_total_bytes"]
    # Tuples, not model instances: a node lists its GPUs in every batch, and
    # building a hundred Gpu objects to find that nothing changed was the
    # largest cost of a batch after the COPY.
    stored = {
        row[0]: row[1:]
        for row in Gpu.objects.filter(uuid__in=wanted).values_list("uuid", "pk", *fields)
    }
    new, changed = [], []
    for uuid, given in wanted.items():
        values = (node_ids[given.node], given.index, given.model, given.memory_total_bytes)
        if uuid not in stored:
            new.append(Gpu(uuid=uuid, **dict(zip(fields, values, strict=True))))
        elif stored[uuid][1:] != values:
            changed.append(Gpu(pk=stored[uuid][0], **dict(zip(fields, values, strict=True))))
    if changed:
        Gpu.objects.bulk_update(changed, fields)
    ids = {uuid: row[0] for uuid, row in stored.items()}
    if new:
        Gpu.objects.bulk_create(new, ignore_conflicts=True)
        ids.update(Gpu.objects.filter(uuid__in=[g.uuid for g in new]).values_list("uuid", "pk"))
    return ids


def _gpu_ids(known: dict[str, int], uuids: list[str]) -> dict[str, int]:
    missing = {u for u in uuids if u not in known}
    if not missing:
        return known
    return known | dict(Gpu.objects.filter(uuid__in=missing).values_list("uuid", "pk"))


def _upsert_deployments(
    inventory: Inventory, node_ids: dict[str, int], gpu_ids: dict[str, int]
) -> dict[tuple[str, str], int]:
    wanted = {(d.node, d.name): d for d in inventory.deployments}
    if not wanted:
        return {}
    stored = Deployment.objects.filter(
        node_id__in={node_ids[node] for node, _ in wanted}, name__in={name for _, name in wanted}
    ).prefetch_related("gpus")
    by_key = {(d.node_id, d.name): d for d in stored}
    fields = ["model", "server_kind", "endpoint", "labels"]
    ids: dict[tuple[str, str], int] = {}
    changed = []
    for key, given in wanted.items():
        values = (given.model, given.server, given.endpoint, given.labels)
        gpus = {gpu_ids[u] for u in given.gpus}
        dep = by_key.get((node_ids[key[0]], key[1]))
        if dep is None:
            dep, _ = Deployment.objects.get_or_create(
                node_id=node_ids[key[0]],
                name=key[1],
                defaults=dict(zip(fields, values, strict=True)),
            )
            dep.gpus.set(gpus)
        else:
            if tuple(getattr(dep, f) for f in fields) != values:
                for name, value in zip(fields, values, strict=True):
                    setattr(dep, name, value)
                changed.append(dep)
            if {g.pk for g in dep.gpus.all()} != gpus:
                dep.gpus.set(gpus)
        ids[key] = dep.pk
    if changed:
        Deployment.objects.bulk_update(changed, fields)
    return ids


def resolve_gpus(refs: InventoryRefs, uuids: list[str]) -> dict[str, int]:
    ids = _gpu_ids(refs.gpu_ids, uuids)
    errors = []
    reported: set[str] = set()
    for index, uuid in enumerate(uuids):
        if uuid not in ids and uuid not in reported:
            reported.add(uuid)
            errors.append(_unknown(f"gpu_samples[{index}].gpu", "GPU", uuid))
    if errors:
        raise InventoryError(errors[:MAX_REPORTED_ERRORS])
    return ids


def resolve_deployments(refs: InventoryRefs, keys: list[tuple[str | None, str]]) -> list[int]:
    """The deployment id for each (node or None, name) a sample names, in order."""
    by_name: dict[str, list[int]] = {}
    for (_, name), pk in refs.deployment_ids.items():
        by_name.setdefault(name, []).append(pk)
    cache: dict[tuple[str | None, str], int | str] = {}
    out: list[int] = []
    errors: list[dict[str, str]] = []
    for index, key in enumerate(keys):
        if key not in cache:
            cache[key] = _resolve_one(refs, by_name, key)
        found = cache[key]
        if isinstance(found, int):
            out.append(found)
        elif len(errors) < MAX_REPORTED_ERRORS:
            errors.append({"field": f"inference_samples[{index}].deployment", "message": found})
    if errors:
        raise InventoryError(errors)
    return out


def _resolve_one(
    refs: InventoryRefs, by_name: dict[str, list[int]], key: tuple[str | None, str]
) -> int | str:
    node, name = key
    if node is not None:
        if (node, name) in refs.deployment_ids:
            return refs.deployment_ids[(node, name)]
        stored = list(
            Deployment.objects.filter(node__name=node, name=name).values_list("pk", flat=True)
        )
    else:
        stored = by_name.get(name) or list(
            Deployment.objects.filter(name=name).values_list("pk", flat=True)
        )
    if len(stored) == 1:
        return stored[0]
    if not stored:
        return f"Unknown deployment {name!r}: list it in this batch's inventory first"
    return f"Deployment {name!r} runs on several nodes: give the sample's node"
