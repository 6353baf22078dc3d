"""Profiling: queue a sweep on a node, follow it, read its charts, compare runs.

Settings (dtype, quantization, attention, compile, batch) are only compared at one
request shape (prompt and generated lengths): the pages' "Request shape" picks it,
the sweep's usual shape by default.
"""

import re
from dataclasses import dataclass
from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from dashboard.charts.memory import memory_vs_batch
from dashboard.charts.pareto import throughput_vs_latency
from dashboard.charts.setting_cost import cost_per_setting
from dashboard.profiling_forms import LatencyTargetForm, ProfilingJobForm, shape_text
from profiling.choices import JobSource
from profiling.models import ProfilingCapability, ProfilingJob, ProfilingResult
from profiling.records import Capability, DeviceRecord, ModelRecord, SpecSummary
from profiling.selectors import (
    Shape,
    cheapest_meeting,
    jobs_list,
    pareto_front,
    request_shapes,
)
from profiling.services import ProfilingError, job_cancel, job_create

MAX_JOBS_SHOWN = 100
MAX_COMPARED = 8
REFRESH_S = 10


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
class NodeRow:
    """A capability as the list shows it; `allowed` None: its stored JSON is unreadable."""

    capability: ProfilingCapability
    allowed: Capability | None


def _capabilities() -> list[ProfilingCapability]:
    return list(ProfilingCapability.objects.select_related("node").order_by("node__name"))


def _at(results: list[ProfilingResult], shape: Shape | None) -> list[ProfilingResult]:
    return [r for r in results if shape is None or (r.prompt_len, r.gen_len) == shape]


def _listed(values: list[Any]) -> str:
    return ", ".join(str(v) for v in values) or "—"


def _job_facts(job: ProfilingJob) -> dict[str, Any]:
    """What the job page's table reads from the job's JSON records."""
    device, model, spec = job.device_record(), job.model_record(), job.spec_summary()
    unreadable = [n for n, r in (("device", device), ("model", model), ("spec", spec)) if r is None]
    device, model, spec = device or DeviceRecord(), model or ModelRecord(), spec or SpecSummary()
    return {
        "device": device,
        "device_memory": device.memory_bytes or None,
        "params": model.params,
        "layers": model.layers,
        "d_model": model.d_model,
        "spec": spec,
        "unreadable": unreadable,
        "sweep": {
            key: _listed(getattr(spec, key))
            for key in ("batch_sizes", "prompt_lens", "gen_lens", "dtypes", "quants", "attentions")
        },
    }


def _list_page(
    request: HttpRequest,
    capabilities: list[ProfilingCapability],
    form: ProfilingJobForm | None = None,
    status: int = 200,
) -> HttpResponse:
    can_add = request.user.has_perm("profiling.add_profilingjob")
    rows = [NodeRow(c, c.allowed()) for c in capabilities]
    context = {
        "capabilities": rows,
        "node_presets": {
            str(row.capability.node_id): row.allowed.presets for row in rows if row.allowed
        },
        "form": (form or ProfilingJobForm(None, capabilities)) if can_add else None,
        "jobs": jobs_list()[:MAX_JOBS_SHOWN],
        "max_shown": MAX_JOBS_SHOWN,
    }
    return render(request, "dashboard/profiling.html", context, status=status)


def profiling(request: HttpRequest) -> HttpResponse:
    return _list_page(request, _capabilities())


@require_POST
def profiling_new(request: HttpRequest) -> HttpResponse:
    if not request.user.has_perm("profiling.add_profilingjob"):
        raise PermissionDenied
    capabilities = _capabilities()
    form = ProfilingJobForm(request.POST, capabilities)
    if form.is_valid():
        try:
            job = job_create(
                node=form.chosen_node(),
                spec=form.spec(),
                name=form.cleaned_data["name"].strip(),
                user=request.user,
                source=JobSource.DASHBOARD,
                deployment=form.cleaned_data["deployment"],
            )
        except ProfilingError as exc:
            form.add_service_errors(exc.errors)
        else:
            messages.success(
                request, f"Queued {job.points_total} points on {form.chosen_node().name}."
            )
            return redirect("dashboard:profiling-job", pk=job.pk)
    return _list_page(request, capabilities, form, status=400)


def profiling_job(request: HttpRequest, pk: int) -> HttpResponse:
    job = get_object_or_404(
        ProfilingJob.objects.select_related("node", "created_by", "deployment__node"), pk=pk
    )
    results = list(job.results.all())
    target = LatencyTargetForm(request.GET or None, request_shapes(results))
    targets = target.targets()
    shape = target.chosen_shape()
    at_shape = _at(results, shape)
    cheapest = cheapest_meeting(results, **targets, shape=shape)
    shape_front = pareto_front(at_shape)
    targeted = any(v is not None for v in targets.values())
    facts = _job_facts(job)
    context = {
        "job": job,
        **facts,
        "results": results,
        "target": target,
        "targeted": targeted,
        "several_shapes": target.several_shapes,
        "shape_text": shape_text(shape) if shape else "",
        "cheapest": cheapest,
        # The front runs from lowest latency up.
        "lowest_itl": shape_front[0] if shape_front else None,
        "refresh_s": 0 if job.finished else REFRESH_S,
        "can_cancel": not job.finished and request.user.has_perm("profiling.change_profilingjob"),
        # Latency, throughput and memory all depend on the request's shape: the
        # charts show the chosen one, so a front never runs across workloads.
        "shape_suffix": f" at {shape_text(shape)}" if shape and target.several_shapes else "",
        "pareto_chart": throughput_vs_latency(
            {"": at_shape},
            "profile-pareto",
            front=shape_front,
            marked=[cheapest] if cheapest else [],
            marked_name="cheapest meeting the target" if targeted else "cheapest setting",
            itl_target=targets["itl_ms"],
        ),
        "memory_chart": memory_vs_batch(at_shape, facts["device_memory"]),
        "cost_chart": cost_per_setting(results, shape),
    }
    status = 400 if target.is_bound and not target.is_valid() else 200
    return render(request, "dashboard/profiling_job.html", context, status=status)


@require_POST
def profiling_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    if not request.user.has_perm("profiling.change_profilingjob"):
        raise PermissionDenied
    job = get_object_or_404(ProfilingJob, pk=pk)
    if job_cancel(job):
        messages.success(request, "Cancelled: the node's agent stops the run at its next report.")
    else:
        messages.info(request, f"The job is {job.get_status_display().lower()} already.")
    return redirect("dashboard:profiling-job", pk=pk)


def _job_ids(values: list[str]) -> tuple[list[int], str]:
    """`?jobs=1,2` or `?jobs=1&jobs=2` (the list's checkboxes): the ids, or what is wrong."""
    words = [w.strip() for value in values for w in value.split(",") if w.strip()]
    # ASCII digits only: str.isdigit() also takes "²", which int() refuses.
    bad = [w for w in words if not re.fullmatch(r"[0-9]{1,12}", w)]
    if bad:
        return [], f"jobs: {bad[0]} is not a job number."
    ids = list(dict.fromkeys(int(w) for w in words))
    if not 2 <= len(ids) <= MAX_COMPARED:
        return [], f"jobs: choose 2 to {MAX_COMPARED} jobs to compare."
    return ids, ""


def profiling_compare(request: HttpRequest) -> HttpResponse:
    ids, error = _job_ids(request.GET.getlist("jobs"))
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
    target = LatencyTargetForm(request.GET, shapes)
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
    context = {
        "error": error,
        "target": target,
        "targeted": targeted,
        "several_shapes": target.several_shapes,
        "shape_text": shape_text(shape) if shape else "",
        "jobs_param": ",".join(str(i) for i in ids),
        "rows": rows,
        "chart": throughput_vs_latency(
            results,
            "profile-compare",
            marked=[row.cheapest for row in rows if row.cheapest],
            marked_name="cheapest meeting the target" if targeted else "cheapest setting",
            itl_target=targets["itl_ms"],
        ),
    }
    status = 400 if error or not target.is_valid() else 200
    return render(request, "dashboard/profiling_compare.html", context, status=status)
