"""Read queries for pages and the API."""

from django.db.models import Model, OuterRef, Prefetch, QuerySet, Subquery

from collectors.models import Deployment, Gpu, GpuSample, InferenceSample, Node
from collectors.scope import cost_scope_ids
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


def deployment_label_keys() -> list[str]:
    """Every label key set on a deployment, sorted."""
    keys: set[str] = set()
    for labels in Deployment.objects.order_by().values_list("labels", flat=True):
        if isinstance(labels, dict):
            keys.update(str(key) for key in labels)
    return sorted(keys)


def deployment_label_pairs() -> list[str]:
    """Every key=value label on a deployment, sorted: the label filter's choices."""
    pairs: set[str] = set()
    for labels in Deployment.objects.order_by().values_list("labels", flat=True):
        if isinstance(labels, dict):
            pairs.update(f"{key}={value}" for key, value in labels.items())
    return sorted(pairs)


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
