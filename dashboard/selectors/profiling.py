"""The profiling pages' figures: the job list, one job's charts, and a comparison.

Settings are only compared at one request shape: the latency target form (from the
URL) picks it, the sweep's usual shape by default, so it is read here with the runs.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.db.models import QuerySet

from dashboard.charts.memory import memory_vs_batch
from dashboard.charts.pareto import throughput_vs_latency
from dashboard.charts.setting_cost import cost_per_setting
from dashboard.profiling_forms import LatencyTargetForm, shape_text
from profiling.models import ProfilingCapability, ProfilingJob, ProfilingResult
from profiling.records import Capability, DeviceRecord, ModelRecord, SpecSummary
from profiling.selectors import Shape, cheapest_meeting, jobs_list, pareto_front, request_shapes

MAX_JOBS_SHOWN = 100
REFRESH_S = 10


@dataclass(frozen=True)
class NodeRow:
    """A capability as the list shows it; `allowed` None: its stored JSON is unreadable."""

    capability: ProfilingCapability
    allowed: Capability | None


@dataclass(frozen=True)
class ProfilingPage:
    capabilities: list[NodeRow]
    node_presets: dict[str, Any]  # node id: its presets, for the form's script
    jobs: QuerySet[ProfilingJob]
    max_shown: int


def capabilities_list() -> list[ProfilingCapability]:
    return list(ProfilingCapability.objects.select_related("node").order_by("node__name"))


def profiling_page(capabilities: list[ProfilingCapability]) -> ProfilingPage:
    rows = [NodeRow(c, c.allowed()) for c in capabilities]
    return ProfilingPage(
        capabilities=rows,
        node_presets={
            str(row.capability.node_id): row.allowed.presets for row in rows if row.allowed
        },
        jobs=jobs_list()[:MAX_JOBS_SHOWN],
        max_shown=MAX_JOBS_SHOWN,
    )


def _at(results: list[ProfilingResult], shape: Shape | None) -> list[ProfilingResult]:
    return [r for r in results if shape is None or (r.prompt_len, r.gen_len) == shape]


def _listed(values: list[Any]) -> str:
    return ", ".join(str(v) for v in values) or "—"


@dataclass(frozen=True)
class ProfilingJobPage:
    job: ProfilingJob
    device: DeviceRecord
    device_memory: int | None
    params: Any
    layers: Any
    d_model: Any
    spec: SpecSummary
    unreadable: list[str]  # which of the job's JSON records could not be read
    sweep: dict[str, str]
    results: list[ProfilingResult]
    target: LatencyTargetForm
    targeted: bool
    several_shapes: bool
    shape_text: str
    cheapest: ProfilingResult | None
    lowest_itl: ProfilingResult | None
    refresh_s: int
    shape_suffix: str
    pareto_chart: str | None
    memory_chart: str | None
    cost_chart: str | None


def profiling_job_page(job: ProfilingJob, query: Mapping[str, Any] | None) -> ProfilingJobPage:
    """`query`: the URL's latency targets and shape, None for none."""
    results = list(job.results.all())
    target = LatencyTargetForm(query, request_shapes(results))
    targets = target.targets()
    shape = target.chosen_shape()
    at_shape = _at(results, shape)
    cheapest = cheapest_meeting(results, **targets, shape=shape)
    shape_front = pareto_front(at_shape)
    targeted = any(v is not None for v in targets.values())
    device, model, spec = job.device_record(), job.model_record(), job.spec_summary()
    unreadable = [n for n, r in (("device", device), ("model", model), ("spec", spec)) if r is None]
    device, model, spec = device or DeviceRecord(), model or ModelRecord(), spec or SpecSummary()
    return ProfilingJobPage(
        job=job,
        device=device,
        device_memory=device.memory_bytes or None,
        params=model.params,
        layers=model.layers,
        d_model=model.d_model,
        spec=spec,
        unreadable=unreadable,
        sweep={
            key: _listed(getattr(spec, key))
            for key in ("batch_sizes", "prompt_lens", "gen_lens", "dtypes", "quants", "attentions")
        },
        results=results,
        target=target,
        targeted=targeted,
        several_shapes=target.several_shapes,
        shape_text=shape_text(shape) if shape else "",
        cheapest=cheapest,
        # The front runs from lowest latency up.
        lowest_itl=shape_front[0] if shape_front else None,
        refresh_s=0 if job.finished else REFRESH_S,
        # Latency, throughput and memory all depend on the request's shape: the
        # charts show the chosen one, so a front never runs across workloads.
        shape_suffix=f" at {shape_text(shape)}" if shape and target.several_shapes else "",
        pareto_chart=throughput_vs_latency(
            {"": at_shape},
            "profile-pareto",
            front=shape_front,
            marked=[cheapest] if cheapest else [],
            marked_name="cheapest meeting the target" if targeted else "cheapest setting",
            itl_target=targets["itl_ms"],
        ),
        memory_chart=memory_vs_batch(at_shape, device.memory_bytes or None),
        cost_chart=cost_per_setting(results, shape),
    )


@dataclass(frozen=True)
class BestPoints:
    """One job's line on the compare page."""

    job: ProfilingJob
    cheapest: ProfilingResult | None
    front: list[ProfilingResult]  # at the shape compared
    has_shape: bool  # whether the job ran the shape compared at all

    @property
    def fastest(self) -> ProfilingResult | None:
        return self.front[-1] if self.front else None  # the front runs from lowest latency up


@dataclass(frozen=True)
class ComparePage:
    error: str
    target: LatencyTargetForm
    targeted: bool
    several_shapes: bool
    shape_text: str
    rows: list[BestPoints]
    chart: str | None


def profiling_compare_page(ids: list[int], error: str, query: Mapping[str, Any]) -> ComparePage:
    """The jobs `ids` side by side; `error`: what was wrong with the ids asked for."""
    found = (
        ProfilingJob.objects.filter(pk__in=ids).select_related("node").prefetch_related("results")
    )
    by_id = {job.pk: job for job in found} if ids else {}
    missing = [str(i) for i in ids if i not in by_id]
    if missing and not error:
        error = f"jobs: no profiling job {', '.join(missing)}."
    jobs = [] if error else [by_id[i] for i in ids]
    results: dict[str, list[ProfilingResult]] = {
        f"#{job.pk} {job}": list(job.results.all()) for job in jobs
    }
    # Every job's shapes, in the jobs' order then each sweep's; counts add up.
    shapes: dict[Shape, int] = {}
    for points in results.values():
        for key, measured in request_shapes(points).items():
            shapes[key] = shapes.get(key, 0) + measured
    target = LatencyTargetForm(query, shapes)
    targets = target.targets()
    shape = target.chosen_shape()
    rows = [
        BestPoints(
            job,
            cheapest_meeting(points, **targets, shape=shape),
            pareto_front(_at(points, shape)),
            bool(_at(points, shape)),
        )
        for job, points in zip(jobs, results.values(), strict=True)
    ]
    targeted = any(v is not None for v in targets.values())
    return ComparePage(
        error=error,
        target=target,
        targeted=targeted,
        several_shapes=target.several_shapes,
        shape_text=shape_text(shape) if shape else "",
        rows=rows,
        chart=throughput_vs_latency(
            results,
            "profile-compare",
            marked=[row.cheapest for row in rows if row.cheapest],
            marked_name="cheapest meeting the target" if targeted else "cheapest setting",
            itl_target=targets["itl_ms"],
        ),
    )
