"""Which deployments and GPUs a filter selects: one meaning of a filter for pages, API,
CSV, budgets and rules.

Entity filters name rows by id or by name (a GPU by its uuid); several values of one
filter are OR-ed, different filters AND-ed. A label `key:value` (or `key=value`)
matches a deployment by its labels (its node's, overlaid with its own), and a GPU by
its node's labels or by a deployment running on it, so a fleet labelled on its nodes
shows the same dollars on the costs page and in the API.
"""

import re
from collections.abc import Sequence
from typing import Any

from django.db.models import Q, QuerySet
from django.db.models.fields.json import KeyTextTransform
from django.db.models.lookups import Exact

from collectors.models import Deployment, Gpu
from inferscope.lib.filters import Filters

# Longer digit strings are names: an id past a bigint would fail in the database.
ID_PATTERN = re.compile(r"[0-9]{1,18}")


def by_name(values: Sequence[str], name_field: str, prefix: str = "") -> Q:
    """Rows whose id or name is one of `values` (a name may look like an id)."""
    ids = [int(value) for value in values if ID_PATTERN.fullmatch(value)]
    return Q(**{f"{prefix}pk__in": ids}) | Q(**{f"{prefix}{name_field}__in": list(values)})


def labelled(field: str, key: str, value: str) -> Q:
    # A key transform, not `__contains`: SQLite has no JSON containment, and a key
    # may hold "__", which a lookup path would read as a join.
    return Q(Exact(KeyTextTransform(key, field), value))


def deployment_labels(own: Any, node: Any) -> dict[str, str]:
    """A deployment's labels: its node's, overlaid with its own (its own win). Filters,
    groupings, /metrics and alerts all read a deployment's labels this way."""
    merged: dict[str, str] = {}
    for labels in (node, own):
        for key, value in labels.items() if isinstance(labels, dict) else ():
            # A key the deployment sets to null hides its node's value, as in filters.
            if value is None:
                merged.pop(str(key), None)
            else:
                merged[str(key)] = str(value)
    return merged


def label_deployments(key: str, value: str) -> QuerySet[Deployment, Any]:
    """Deployments whose labels (deployment_labels) hold key=value."""
    wanted = labelled("labels", key, value) | (
        ~Q(labels__has_key=key) & labelled("node__labels", key, value)
    )
    return Deployment.objects.filter(wanted).values("pk")


def label_gpus(key: str, value: str) -> QuerySet[Gpu, Any]:
    runs = Deployment.gpus.through.objects.filter(
        deployment_id__in=label_deployments(key, value)
    ).values("gpu_id")
    return Gpu.objects.filter(labelled("node__labels", key, value) | Q(pk__in=runs)).values("pk")


def gpu_scope(filters: Filters) -> QuerySet[Gpu, Any] | None:
    """The GPUs the entity and label filters leave, as a subquery; None: all of them."""
    if not (filters.gpus or filters.nodes or filters.deployments or filters.labels):
        return None
    gpus = Gpu.objects.all()
    if filters.gpus:
        gpus = gpus.filter(by_name(filters.gpus, "uuid"))
    if filters.nodes:
        gpus = gpus.filter(by_name(filters.nodes, "name", "node__"))
    if filters.deployments:
        runs = Deployment.gpus.through.objects.filter(
            by_name(filters.deployments, "name", "deployment__")
        )
        gpus = gpus.filter(pk__in=runs.values("gpu_id"))
    for key, value in filters.labels:
        gpus = gpus.filter(pk__in=label_gpus(key, value))
    return gpus.values("pk")


def deployment_scope(filters: Filters) -> QuerySet[Deployment, Any] | None:
    """The deployments the entity and label filters leave; None: all of them."""
    if not (filters.gpus or filters.nodes or filters.deployments or filters.labels):
        return None
    deployments = Deployment.objects.all()
    if filters.deployments:
        deployments = deployments.filter(by_name(filters.deployments, "name"))
    if filters.nodes:
        deployments = deployments.filter(by_name(filters.nodes, "name", "node__"))
    if filters.gpus:
        runs = Deployment.gpus.through.objects.filter(by_name(filters.gpus, "uuid", "gpu__"))
        deployments = deployments.filter(pk__in=runs.values("deployment_id"))
    for key, value in filters.labels:
        deployments = deployments.filter(pk__in=label_deployments(key, value))
    return deployments.values("pk")


def deployment_ids(filters: Filters) -> list[int] | None:
    """The deployments the entity and label filters leave; None: no filter, all of them."""
    scope = deployment_scope(filters)
    return None if scope is None else list(scope.values_list("pk", flat=True))


def cost_scope_ids(filters: Filters) -> tuple[list[int], list[int]] | None:
    """(deployments whose shares, GPUs whose idle time) a filter keeps, as cost_records_list
    keeps them: a deployment filter keeps no idle time. None: no filter, the whole bill."""
    deployments = deployment_ids(filters)
    if deployments is None:
        return None
    gpus = None if filters.deployments else gpu_scope(filters)
    return deployments, [] if gpus is None else list(gpus.values_list("pk", flat=True))
