"""Read queries of the REST API: the fleet, raw samples, rollups and hourly cost records.

Each list takes one `Filters`. Entity filters name rows by id or by name (a GPU by its
uuid); several values of one filter are OR-ed, different filters AND-ed. A label
`key:value` matches a node's own labels, a deployment's or its node's, and a GPU by its
node or by a deployment running on it. Querysets come back unordered: the pagination
or the export orders them, on an indexed column.
"""

from django.db.models import (
    Count,
    F,
    FloatField,
    OuterRef,
    Prefetch,
    QuerySet,
    Subquery,
)
from django.db.models.functions import Cast, NullIf

from api.columns import (
    GPU_ROLLUP_COLUMNS,
    GPU_SAMPLE_COLUMNS,
    INFERENCE_ROLLUP_COLUMNS,
    INFERENCE_SAMPLE_COLUMNS,
)
from collectors.models import Agent, Deployment, Gpu, GpuSample, InferenceSample, Node
from collectors.scope import (
    by_name,
    deployment_scope,
    gpu_scope,
    labelled,
)
from collectors.selectors import gpus_with_latest
from inferscope.lib.filters import Filters, in_window
from telemetry.models import GpuRollup, InferenceRollup


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
        nodes = nodes.filter(by_name(filters.nodes, "name"))
    if filters.gpus:
        nodes = nodes.filter(
            pk__in=Gpu.objects.filter(by_name(filters.gpus, "uuid")).values("node")
        )
    if filters.deployments:
        named = Deployment.objects.filter(by_name(filters.deployments, "name"))
        nodes = nodes.filter(pk__in=named.values("node"))
    for key, value in filters.labels:
        nodes = nodes.filter(labelled("labels", key, value))
    return in_window(nodes, "created_at", filters)


def gpus_list(filters: Filters) -> QuerySet[Gpu]:
    gpus = gpus_with_latest().prefetch_related(
        Prefetch("deployments", queryset=Deployment.objects.order_by("pk").only("pk"))
    )
    scope = gpu_scope(filters)
    if scope is not None:
        gpus = gpus.filter(pk__in=scope)
    return in_window(gpus, "created_at", filters)


def deployments_list(filters: Filters) -> QuerySet[Deployment]:
    latest = InferenceSample.objects.filter(deployment=OuterRef("pk")).order_by("-ts")
    deployments = (
        Deployment.objects.select_related("node")
        .prefetch_related(Prefetch("gpus", queryset=Gpu.objects.order_by("pk").only("pk")))
        .annotate(last_ts=Subquery(latest.values("ts")[:1]))
    )
    scope = deployment_scope(filters)
    if scope is not None:
        deployments = deployments.filter(pk__in=scope)
    return in_window(deployments, "created_at", filters)


def agents_list(filters: Filters) -> QuerySet[Agent]:
    agents = Agent.objects.prefetch_related(
        Prefetch("nodes", queryset=Node.objects.order_by("pk").only("pk", "agent_id"))
    )
    if filters.nodes:
        owners = Node.objects.filter(by_name(filters.nodes, "name")).values("agent")
        agents = agents.filter(pk__in=owners)
    return in_window(agents, "created_at", filters)


# Time series ------------------------------------------------------------------------

# The export's columns live in api/columns.py; the views read them from here.
__all__ = [
    "GPU_ROLLUP_COLUMNS",
    "GPU_SAMPLE_COLUMNS",
    "INFERENCE_ROLLUP_COLUMNS",
    "INFERENCE_SAMPLE_COLUMNS",
    "Filters",
]


def gpu_samples_list(filters: Filters) -> QuerySet[GpuSample]:
    samples = in_window(GpuSample.objects.select_related("gpu"), "ts", filters)
    scope = gpu_scope(filters)
    return samples if scope is None else samples.filter(gpu_id__in=scope)


def inference_samples_list(filters: Filters) -> QuerySet[InferenceSample]:
    samples = in_window(InferenceSample.objects.select_related("deployment"), "ts", filters)
    scope = deployment_scope(filters)
    return samples if scope is None else samples.filter(deployment_id__in=scope)


def gpu_rollups_list(filters: Filters, resolution: int) -> QuerySet[GpuRollup]:
    rollups = GpuRollup.objects.select_related("gpu").filter(resolution=resolution)
    rollups = in_window(rollups, "bucket", filters).annotate(
        avg_util=_avg("util_sum", "util_n"),
        avg_power=_avg("power_sum", "power_n"),
        avg_temp=_avg("temp_sum", "temp_n"),
        avg_mem_used=_avg("mem_used_sum", "mem_used_n"),
        avg_sm_clock=_avg("sm_clock_sum", "sm_clock_n"),
    )
    scope = gpu_scope(filters)
    return rollups if scope is None else rollups.filter(gpu_id__in=scope)


def inference_rollups_list(filters: Filters, resolution: int) -> QuerySet[InferenceRollup]:
    rollups = InferenceRollup.objects.select_related("deployment").filter(resolution=resolution)
    rollups = in_window(rollups, "bucket", filters).annotate(
        avg_kv_cache=_avg("kv_cache_sum", "kv_cache_n")
    )
    scope = deployment_scope(filters)
    return rollups if scope is None else rollups.filter(deployment_id__in=scope)
