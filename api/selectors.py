"""Read queries of the REST API: the fleet, raw samples, rollups and hourly cost records.

Each list takes one `Filters`. Entity filters name rows by id or by name (a GPU by its
uuid); several values of one filter are OR-ed, different filters AND-ed. A label
`key:value` matches a node's own labels, a deployment's or its node's, and a GPU by its
node or by a deployment running on it. Querysets come back unordered: the pagination
or the export orders them, on an indexed column.
"""

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from django.db.models import (
    Count,
    F,
    FloatField,
    Model,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
)
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Cast, NullIf
from django.db.models.lookups import Exact

from api.columns import (
    COST_RECORD_COLUMNS,
    GPU_ROLLUP_COLUMNS,
    GPU_SAMPLE_COLUMNS,
    INFERENCE_ROLLUP_COLUMNS,
    INFERENCE_SAMPLE_COLUMNS,
)
from collectors.models import Agent, Deployment, Gpu, GpuSample, InferenceSample, Node
from collectors.selectors import gpus_with_latest
from costs.models import CostRecord, GpuRollup, InferenceRollup

# Longer digit strings are names: an id past a bigint would fail in the database.
_ID = re.compile(r"[0-9]{1,18}")
M = TypeVar("M", bound=Model)


@dataclass(frozen=True)
class Filters:
    """What a list is narrowed to; an empty sequence does not filter."""

    start: datetime | None = None  # inclusive
    end: datetime | None = None  # exclusive
    nodes: Sequence[str] = ()
    gpus: Sequence[str] = ()
    deployments: Sequence[str] = ()
    labels: Sequence[tuple[str, str]] = ()


def _named(values: Sequence[str], name_field: str, prefix: str = "") -> Q:
    """Rows whose id or name is one of `values` (a name may look like an id)."""
    ids = [int(value) for value in values if _ID.fullmatch(value)]
    return Q(**{f"{prefix}pk__in": ids}) | Q(**{f"{prefix}{name_field}__in": list(values)})


def _labelled(field: str, key: str, value: str) -> Q:
    # A key transform, not `__contains`: SQLite has no JSON containment, and a key
    # may hold "__", which a lookup path would read as a join.
    return Q(Exact(KeyTextTransform(key, field), value))


def _label_deployments(key: str, value: str) -> QuerySet[Deployment, Any]:
    wanted = _labelled("labels", key, value) | _labelled("node__labels", key, value)
    return Deployment.objects.filter(wanted).values("pk")


def _label_gpus(key: str, value: str) -> QuerySet[Gpu, Any]:
    runs = Deployment.gpus.through.objects.filter(
        deployment_id__in=_label_deployments(key, value)
    ).values("gpu_id")
    return Gpu.objects.filter(_labelled("node__labels", key, value) | Q(pk__in=runs)).values("pk")


def _gpu_scope(filters: Filters) -> QuerySet[Gpu, Any] | None:
    """The GPUs the entity and label filters leave, as a subquery; None: all of them."""
    if not (filters.gpus or filters.nodes or filters.deployments or filters.labels):
        return None
    gpus = Gpu.objects.all()
    if filters.gpus:
        gpus = gpus.filter(_named(filters.gpus, "uuid"))
    if filters.nodes:
        gpus = gpus.filter(_named(filters.nodes, "name", "node__"))
    if filters.deployments:
        runs = Deployment.gpus.through.objects.filter(
            _named(filters.deployments, "name", "deployment__")
        )
        gpus = gpus.filter(pk__in=runs.values("gpu_id"))
    for key, value in filters.labels:
        gpus = gpus.filter(pk__in=_label_gpus(key, value))
    return gpus.values("pk")


def _deployment_scope(filters: Filters) -> QuerySet[Deployment, Any] | None:
    """The deployments the entity and label filters leave; None: all of them."""
    if not (filters.gpus or filters.nodes or filters.deployments or filters.labels):
        return None
    deployments = Deployment.objects.all()
    if filters.deployments:
        deployments = deployments.filter(_named(filters.deployments, "name"))
    if filters.nodes:
        deployments = deployments.filter(_named(filters.nodes, "name", "node__"))
    if filters.gpus:
        runs = Deployment.gpus.through.objects.filter(_named(filters.gpus, "uuid", "gpu__"))
        deployments = deployments.filter(pk__in=runs.values("deployment_id"))
    for key, value in filters.labels:
        deployments = deployments.filter(pk__in=_label_deployments(key, value))
    return deployments.values("pk")


def _in_window(rows: QuerySet[M], field: str, filters: Filters) -> QuerySet[M]:
    if filters.start is not None:
        rows = rows.filter(**{f"{field}__gte": filters.start})
    if filters.end is not None:
        rows = rows.filter(**{f"{field}__lt": filters.end})
    return rows


def _avg(total: str, count: str) -> Cast:
    # NULL where nothing was measured, as the models' *_avg properties answer None.
    return Cast(F(total) / NullIf(F(count), 0), FloatField())


# Fleet ------------------------------------------------------------------------------


def nodes_list(filters: Filters) -> QuerySet[Node]:
    nodes = Node.objects.select_related("agent").annotate(
        gpu_count=Count("gpus", distinct=True),
        deployment_count=Count("deployments", distinct=True),
        agent_name=F("agent__name"),
        agent_last_seen_at=F("agent__last_seen_at"),
    )
    if filters.nodes:
        nodes = nodes.filter(_named(filters.nodes, "name"))
    if filters.gpus:
        nodes = nodes.filter(pk__in=Gpu.objects.filter(_named(filters.gpus, "uuid")).values("node"))
    if filters.deployments:
        named = Deployment.objects.filter(_named(filters.deployments, "name"))
        nodes = nodes.filter(pk__in=named.values("node"))
    for key, value in filters.labels:
        nodes = nodes.filter(_labelled("labels", key, value))
    return _in_window(nodes, "created_at", filters)


def gpus_list(filters: Filters) -> QuerySet[Gpu]:
    gpus = gpus_with_latest().prefetch_related(
        Prefetch("deployments", queryset=Deployment.objects.order_by("pk").only("pk"))
    )
    scope = _gpu_scope(filters)
    if scope is not None:
        gpus = gpus.filter(pk__in=scope)
    return _in_window(gpus, "created_at", filters)


def deployments_list(filters: Filters) -> QuerySet[Deployment]:
    latest = InferenceSample.objects.filter(deployment=OuterRef("pk")).order_by("-ts")
    deployments = (
        Deployment.objects.select_related("node")
        .prefetch_related(Prefetch("gpus", queryset=Gpu.objects.order_by("pk").only("pk")))
        .annotate(last_ts=Subquery(latest.values("ts")[:1]))
    )
    scope = _deployment_scope(filters)
    if scope is not None:
        deployments = deployments.filter(pk__in=scope)
    return _in_window(deployments, "created_at", filters)


def agents_list(filters: Filters) -> QuerySet[Agent]:
    agents = Agent.objects.prefetch_related(
        Prefetch("nodes", queryset=Node.objects.order_by("pk").only("pk", "agent_id"))
    )
    if filters.nodes:
        owners = Node.objects.filter(_named(filters.nodes, "name")).values("agent")
        agents = agents.filter(pk__in=owners)
    return _in_window(agents, "created_at", filters)


def deployment_ids(filters: Filters) -> list[int] | None:
    """The deployments the entity and label filters leave; None: no filter, all of them."""
    scope = _deployment_scope(filters)
    return None if scope is None else list(scope.values_list("pk", flat=True))


def cost_scope_ids(filters: Filters) -> tuple[list[int], list[int]] | None:
    """(deployments whose shares, GPUs whose idle time) a filter keeps, as cost_records_list
    keeps them: a deployment filter keeps no idle time. None: no filter, the whole bill."""
    deployments = deployment_ids(filters)
    if deployments is None:
        return None
    gpus = None if filters.deployments else _gpu_scope(filters)
    return deployments, [] if gpus is None else list(gpus.values_list("pk", flat=True))


# Time series ------------------------------------------------------------------------

# The export's columns live in api/columns.py; the views read them from here.
__all__ = [
    "COST_RECORD_COLUMNS",
    "GPU_ROLLUP_COLUMNS",
    "GPU_SAMPLE_COLUMNS",
    "INFERENCE_ROLLUP_COLUMNS",
    "INFERENCE_SAMPLE_COLUMNS",
    "Filters",
]


def gpu_samples_list(filters: Filters) -> QuerySet[GpuSample]:
    samples = _in_window(GpuSample.objects.select_related("gpu"), "ts", filters)
    scope = _gpu_scope(filters)
    return samples if scope is None else samples.filter(gpu_id__in=scope)


def inference_samples_list(filters: Filters) -> QuerySet[InferenceSample]:
    samples = _in_window(InferenceSample.objects.select_related("deployment"), "ts", filters)
    scope = _deployment_scope(filters)
    return samples if scope is None else samples.filter(deployment_id__in=scope)


def gpu_rollups_list(filters: Filters, resolution: int) -> QuerySet[GpuRollup]:
    rollups = GpuRollup.objects.select_related("gpu").filter(resolution=resolution)
    rollups = _in_window(rollups, "bucket", filters).annotate(
        avg_util=_avg("util_sum", "util_n"),
        avg_power=_avg("power_sum", "power_n"),
        avg_temp=_avg("temp_sum", "temp_n"),
        avg_mem_used=_avg("mem_used_sum", "mem_used_n"),
        avg_sm_clock=_avg("sm_clock_sum", "sm_clock_n"),
    )
    scope = _gpu_scope(filters)
    return rollups if scope is None else rollups.filter(gpu_id__in=scope)


def inference_rollups_list(filters: Filters, resolution: int) -> QuerySet[InferenceRollup]:
    rollups = InferenceRollup.objects.select_related("deployment").filter(resolution=resolution)
    rollups = _in_window(rollups, "bucket", filters).annotate(
        avg_kv_cache=_avg("kv_cache_sum", "kv_cache_n")
    )
    scope = _deployment_scope(filters)
    return rollups if scope is None else rollups.filter(deployment_id__in=scope)


def cost_records_list(filters: Filters, idle: bool | None = None) -> QuerySet[CostRecord]:
    """Hourly cost shares; `idle` True keeps the idle rows only, False the deployments'.

    A label keeps its deployments' shares and the idle time of the GPUs it covers, so
    the rows add up to what the label's GPUs cost, as the costs page counts it.
    """
    records = _in_window(
        CostRecord.objects.select_related("gpu__node", "deployment"), "hour", filters
    )
    if idle is not None:
        records = records.filter(deployment__isnull=idle)
    if filters.gpus:
        records = records.filter(_named(filters.gpus, "uuid", "gpu__"))
    if filters.nodes:
        records = records.filter(_named(filters.nodes, "name", "gpu__node__"))
    if filters.deployments:
        records = records.filter(_named(filters.deployments, "name", "deployment__"))
    for key, value in filters.labels:
        records = records.filter(
            Q(deployment_id__in=_label_deployments(key, value))
            | Q(deployment__isnull=True, gpu_id__in=_label_gpus(key, value))
        )
    return records
