"""Deployments list and one deployment's page."""

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from collectors.models import Deployment, settings_for
from dashboard.selectors.deployments import deployment_page, deployments_page
from dashboard.selectors.scope import context_of
from dashboard.settings_forms import DeploymentSettingsForm
from dashboard.views.common import page_range, render_ranged

CHANGE_SETTINGS = "collectors.change_deploymentsettings"


def deployments(request: HttpRequest) -> HttpResponse:
    pr = page_range(request)
    return render_ranged(
        request, "dashboard/deployments.html", pr, context_of(deployments_page(pr))
    )


def _get(pk: int) -> Deployment:
    return get_object_or_404(Deployment.objects.select_related("node", "settings"), pk=pk)


def deployment_detail(request: HttpRequest, pk: int) -> HttpResponse:
    return _deployment_page(request, _get(pk))


def _deployment_page(
    request: HttpRequest, dep: Deployment, form: DeploymentSettingsForm | None = None
) -> HttpResponse:
    pr = page_range(request)
    page = deployment_page(dep, pr.tr)
    context = {
        **context_of(page),
        "settings_form": form
        or (DeploymentSettingsForm(instance=page.served) if _can_edit(request) else None),
    }
    response = render_ranged(request, "dashboard/deployment.html", pr, context)
    if form is not None:
        response.status_code = 400
    return response


def _can_edit(request: HttpRequest) -> bool:
    return request.user.has_perm(CHANGE_SETTINGS)


@require_http_methods(["GET", "POST"])
def deployment_settings(request: HttpRequest, pk: int) -> HttpResponse:
    if request.method == "GET":
        # The range bar of a page answered here (a refused form) links back here.
        query = request.GET.urlencode()
        target = reverse("dashboard:deployment", args=[pk])
        return redirect(f"{target}?{query}" if query else target)
    if not _can_edit(request):
        raise PermissionDenied
    dep = _get(pk)
    form = DeploymentSettingsForm(request.POST, instance=settings_for(dep))
    if not form.is_valid():
        # Validating wrote the bad input onto the form's instance: the page shows
        # the settings as stored, from a fresh load.
        return _deployment_page(request, _get(pk), form)
    form.save()
    messages.success(request, f"Saved the settings of {dep.name}.")
    return redirect("dashboard:deployment", pk=pk)
