"""Profiling: queue a sweep on a node, follow it, read its charts, compare runs."""

from dataclasses import dataclass

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from dashboard.charts.memory import memory_vs_batch
from dashboard.charts.pareto import throughput_vs_latency
from dashboard.charts.setting_cost import cost_per_setting
from dashboard.profiling_forms import LatencyTargetForm, ProfilingJobForm
from profiling.choices import JobSource
from profiling.models import ProfilingCapability, ProfilingJob, ProfilingResult
from profiling.selectors import cheapest_meeting, jobs_list, pareto_front
from profiling.services import ProfilingError, job_cancel, job_create

MAX_JOBS_SHOWN = 100
MAX_COMPARED = 8
REFRESH_S = 10


@dataclass(frozen=True)
class BestPoints:
    """One job's line on the compare page."""

    job: ProfilingJob
    cheapest: ProfilingResult | None
    front: list[ProfilingResult]

    @property
    def fastest(self) -> ProfilingResult | None:
        return self.front[-1] if self.front else None  # the front runs from lowest latency up


def _capabilities() -> list[ProfilingCapability]:
    return list(ProfilingCapability.objects.select_related("node").order_by("node__name"))


def _list_page(
    request: HttpRequest,
    capabilities: list[ProfilingCapability],
    form: ProfilingJobForm | None = None,
    status: int = 200,
) -> HttpResponse:
    can_add = request.user.has_perm("profiling.add_profilingjob")
    context = {
        "capabilities": capabilities,
        "node_presets": {str(c.node_id): c.presets for c in capabilities},
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
    job = get_object_or_404(ProfilingJob.objects.select_related("node", "created_by"), pk=pk)
    results = list(job.results.all())
    target = LatencyTargetForm(request.GET or None)
    targets = target.targets()
    cheapest = cheapest_meeting(results, **targets)
    front = pareto_front(results)
    targeted = any(v is not None for v in targets.values())
    context = {
        "job": job,
        "results": results,
        "target": target,
        "targeted": targeted,
        "cheapest": cheapest,
        "lowest_itl": front[0] if front else None,  # the front runs from lowest latency up
        "refresh_s": 0 if job.finished else REFRESH_S,
        "can_cancel": not job.finished and request.user.has_perm("profiling.change_profilingjob"),
        "pareto_chart": throughput_vs_latency(
            {"": results},
            "profile-pareto",
            front=front,
            marked=[cheapest] if cheapest else [],
            marked_name="cheapest meeting the target" if targeted else "cheapest setting",
            itl_target=targets["itl_ms"],
        ),
        "memory_chart": memory_vs_batch(results, job.device.get("memory_bytes")),
        "cost_chart": cost_per_setting(results),
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
    bad = [w for w in words if not w.isdigit() or len(w) > 12]
    if bad:
        return [], f"jobs: {bad[0]} is not a job number."
    ids = list(dict.fromkeys(int(w) for w in words))
    if not 2 <= len(ids) <= MAX_COMPARED:
        return [], f"jobs: choose 2 to {MAX_COMPARED} jobs to compare."
    return ids, ""


def profiling_compare(request: HttpRequest) -> HttpResponse:
    target = LatencyTargetForm(request.GET)
    targets = target.targets()
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
    rows = [
        BestPoints(job, cheapest_meeting(points, **targets), pareto_front(points))
        for job, points in zip(jobs, results.values(), strict=True)
    ]
    targeted = any(v is not None for v in targets.values())
    context = {
        "error": error,
        "target": target,
        "targeted": targeted,
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
