"""Profiling: queue a sweep on a node, follow it, read its charts, compare runs.

Settings (dtype, quantization, attention, compile, batch) are only compared at one
request shape (prompt and generated lengths): the pages' "Request shape" picks it,
the sweep's usual shape by default.
"""

import re

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from dashboard.profiling_forms import ProfilingJobForm
from dashboard.selectors.profiling import (
    capabilities_list,
    profiling_compare_page,
    profiling_job_page,
    profiling_page,
)
from dashboard.selectors.scope import context_of
from profiling.choices import JobSource
from profiling.models import ProfilingCapability, ProfilingJob
from profiling.services import ProfilingError, job_cancel, job_create

MAX_COMPARED = 8


def _list_page(
    request: HttpRequest,
    capabilities: list[ProfilingCapability],
    form: ProfilingJobForm | None = None,
    status: int = 200,
) -> HttpResponse:
    can_add = request.user.has_perm("profiling.add_profilingjob")
    context = {
        **context_of(profiling_page(capabilities)),
        "form": (form or ProfilingJobForm(None, capabilities)) if can_add else None,
    }
    return render(request, "dashboard/profiling.html", context, status=status)


def profiling(request: HttpRequest) -> HttpResponse:
    return _list_page(request, capabilities_list())


@require_POST
def profiling_new(request: HttpRequest) -> HttpResponse:
    if not request.user.has_perm("profiling.add_profilingjob"):
        raise PermissionDenied
    capabilities = capabilities_list()
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
    page = profiling_job_page(job, request.GET or None)
    context = {
        **context_of(page),
        "can_cancel": not job.finished and request.user.has_perm("profiling.change_profilingjob"),
    }
    target = page.target
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
    page = profiling_compare_page(ids, error, request.GET)
    context = {**context_of(page), "jobs_param": ",".join(str(i) for i in ids)}
    status = 400 if page.error or not page.target.is_valid() else 200
    return render(request, "dashboard/profiling_compare.html", context, status=status)
