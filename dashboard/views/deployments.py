"""Deployments list and one deployment's page."""

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from collectors.models import Deployment, settings_for
from costs.economics.selectors import (
    capacity_estimates,
    deployment_economics,
    deployment_economics_series,
)
from costs.spend import Scope, cost_window, deployment_cost_steps, deployment_spend
from dashboard.charts.deployment import LATENCIES, deployment_charts, deployment_cost_charts
from dashboard.charts.economics import economics_charts
from dashboard.charts.knee import knee_chart
from dashboard.economics import slo_rows
from dashboard.settings_forms import DeploymentSettingsForm
from dashboard.views.common import page_range, render_ranged
from dashboard.views.fleet import step_label
from telemetry import usage
from vocab.servers import SERVERS

CHANGE_SETTINGS = "collectors.change_deploymentsettings"


def deployments(request: HttpRequest) -> HttpResponse:
    pr = page_range(request)
    tr = pr.tr
    rows = Deployment.objects.select_related("node").order_by("name", "node__name")
    if pr.deployment_ids is not None:
        rows = rows.filter(pk__in=pr.deployment_ids)
    figures = usage.deployment_totals(tr, pr.deployment_ids)
    spend = deployment_spend(tr, pr.cost_scope)
    estimates = capacity_estimates(pr.deployment_ids)
    table = [
        {
            "deployment": dep,
            "estimate": estimates.get(dep.pk),
            "figures": figures.get(dep.pk),
            "usd": spend.get(dep.pk, (None, None))[0],
            "usd_per_1m": spend.get(dep.pk, (None, None))[1],
        }
        for dep in rows
    ]
    return render_ranged(request, "dashboard/deployments.html", pr, {"rows": table})


def _get(pk: int) -> Deployment:
    return get_object_or_404(Deployment.objects.select_related("node", "settings"), pk=pk)


def deployment_detail(request: HttpRequest, pk: int) -> HttpResponse:
    return _deployment_page(request, _get(pk))


def _deployment_page(
    request: HttpRequest, dep: Deployment, form: DeploymentSettingsForm | None = None
) -> HttpResponse:
    pr = page_range(request)
    tr = pr.tr
    times, points = usage.deployment_series(tr, dep.pk)
    totals = usage.deployment_totals(tr, [dep.pk]).get(dep.pk)
    x_range = (tr.start, tr.end)
    charts = deployment_charts(times, points, x_range)
    cost_times, cost, per_1m, usd = deployment_cost_steps(tr, dep.pk)
    label = step_label(max(tr.step, 3600))
    charts.update(deployment_cost_charts(dep.name, cost_times, cost, per_1m, label, x_range))
    # Whole hours, as the cost above: the split and goodput are of the same dollars.
    since = cost_window(tr).start
    economics = deployment_economics(since, tr.end, [dep.pk]).get(dep.pk)
    series = deployment_economics_series(since, tr.end, tr.step, [dep.pk]).get(dep.pk, {})
    estimate = capacity_estimates([dep.pk]).get(dep.pk)
    served = settings_for(dep)
    knee = estimate.knee() if estimate is not None else None
    lower = estimate is not None and estimate.is_lower_bound
    context = {
        "deployment": dep,
        "gpus": dep.gpus.select_related("node").order_by("node__name", "index"),
        "totals": totals,
        "usd": usd,
        "usd_per_1m": deployment_spend(tr, Scope([dep.pk])).get(dep.pk, (None, None))[1],
        "spend_since": since,
        "charts": charts,
        "latencies": LATENCIES,
        "dialect": dialect_notes(dep.server_kind),
        "served": served,
        "economics": economics,
        "slo": slo_rows(economics, served),
        "economics_charts": economics_charts(series, label, x_range),
        "estimate": estimate,
        "knee_chart": knee_chart(knee, estimate.capacity_rps, estimate.current_rps, lower)
        if estimate is not None and knee is not None
        else None,
        "knee_unreadable": estimate is not None and knee is None,
        "settings_form": form
        or (DeploymentSettingsForm(instance=served) if _can_edit(request) else None),
    }
    response = render_ranged(request, "dashboard/deployment.html", pr, context)
    if form is not None:
        response.status_code = 400
    return response


# InferenceSample fields as the deployment page names them.
_FIELD_LABELS = {
    "ttft_hist": "Time to first token",
    "itl_hist": "Inter-token latency",
    "e2e_hist": "End-to-end latency",
    "queue_hist": "Queue time",
    "prefix_cache_hits": "Prefix cache hits",
    "prefix_cache_queries": "Prefix cache queries",
    "kv_cache_usage": "KV cache",
    "prompt_tokens": "Prompt tokens",
    "generation_tokens": "Generated tokens",
    "requests_error": "Errors",
    "prefill_s": "Prefill time",
    "decode_s": "Decode time",
}


def dialect_notes(kind: str) -> dict[str, list[tuple[str, str]]]:
    """What this server kind's figures are derived from, and what it cannot give
    (vocab/servers.py), for the note beside the charts."""
    server = SERVERS.get(kind)
    if server is None:
        return {}
    notes = {
        "derived": [(_FIELD_LABELS.get(f, f), how) for f, how in server.derived.items()],
        "missing": [(_FIELD_LABELS.get(f, f), why) for f, why in server.missing.items()],
    }
    return notes if notes["derived"] or notes["missing"] else {}


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
