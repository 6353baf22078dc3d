"""Read queries for pages and the API."""

from django.db.models import Model, OuterRef, Prefetch, QuerySet, Subquery

from collectors.models import Deployment, Gpu, GpuSample, InferenceSample, Node
from collectors.scope import cost_scope_ids, deployment_labels
from inferscope.lib.filters import Filters


def _latest(model: type[Model], fk: str, field: str) -> Subquery:
    # Served by the (entity, ts) index: one index probe per row of the outer query.
    rows = model._default_manager.filter(**{fk: OuterRef("pk")}).order_by("-ts").values(field)[:1]
    return Subquery(rows)


def fleet_nodes() -> QuerySet[Node]:
    """Nodes with their GPUs (latest utilization, power, memory) and deployments."""
    gpus = Gpu.objects.order_by("index", "uuid").annotate(
        last_ts=_latest(GpuSample, "gpu", "ts"),
        last_util=_latest(GpuSample, "gpu", "util_gpu"),
        last_power=_latest(GpuSample, "gpu", "power_w"),
        last_mem_used=_latest(GpuSample, "gpu", "mem_used_bytes"),
    )
    deployments = Deployment.objects.order_by("name").annotate(
        last_ts=_latest(InferenceSample, "deployment", "ts"),
        last_running=_latest(InferenceSample, "deployment", "running"),
        last_tokens=_latest(InferenceSample, "deployment", "generation_tokens"),
        last_interval=_latest(InferenceSample, "deployment", "interval_s"),
    )
    return Node.objects.prefetch_related(
        Prefetch("gpus", queryset=gpus), Prefetch("deployments", queryset=deployments)
    )


def _deployments_labels() -> list[dict[str, str]]:
    rows = Deployment.objects.order_by().values_list("labels", "node__labels")
    return [deployment_labels(own, node) for own, node in rows]


def deployment_label_keys() -> list[str]:
    """Every label key of a deployment (its own or its node's), sorted."""
    return sorted({key for labels in _deployments_labels() for key in labels})


def deployment_label_pairs() -> list[str]:
    """Every key=value label of a deployment (its own or its node's), sorted: the label
    filter's choices."""
    return sorted({f"{k}={v}" for labels in _deployments_labels() for k, v in labels.items()})


def label_scope(label: tuple[str, str] | None) -> tuple[list[int], list[int]] | None:
    """(deployment ids, GPU ids) a page's label filter keeps, as the API keeps them
    (collectors.scope); None: no filter."""
    return None if label is None else cost_scope_ids(Filters(labels=[label]))


def gpus_with_latest(gpu_ids: list[int] | None = None) -> QuerySet[Gpu]:
    """GPUs with their node and latest sample's figures, in fleet order."""
    gpus = Gpu.objects.select_related("node").annotate(
        last_ts=_latest(GpuSample, "gpu", "ts"),
        last_util=_latest(GpuSample, "gpu", "util_gpu"),
        last_power=_latest(GpuSample, "gpu", "power_w"),
        last_mem_used=_latest(GpuSample, "gpu", "mem_used_bytes"),
        last_temp=_latest(GpuSample, "gpu", "temp_c"),
    )
    return gpus if gpu_ids is None else gpus.filter(pk__in=gpu_ids)
