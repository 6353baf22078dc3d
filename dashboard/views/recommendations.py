"""Recommendations: the list by saving, one recommendation with its evidence, its
status buttons, and a button that runs every rule now."""

from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from dashboard.charts.recommendation import evidence_chart
from dashboard.recommendation_forms import RecommendationActionForm, RecommendationFilterForm
from recommendations.choices import RecommendationStatus
from recommendations.evidence_types import Evidence
from recommendations.models import Recommendation
from recommendations.selectors import (
    MIN_DAYS_AFTER,
    measured_saving,
    open_totals,
    recommendations_list,
)
from recommendations.services import (
    ActionError,
    recommendation_dismiss,
    recommendation_done,
    recommendation_reopen,
    recommendation_snooze,
    recommendations_recompute,
)

CHANGE = "recommendations.change_recommendation"
MAX_SHOWN = 200
DONE_MESSAGES = {
    "dismiss": "Dismissed: reruns keep it dismissed until someone reopens it.",
    "done": "Marked done: this page now compares the cost before and since.",
    "reopen": "Reopened.",
}


def recommendations(request: HttpRequest) -> HttpResponse:
    form = RecommendationFilterForm(request.GET or {"status": RecommendationStatus.OPEN})
    rows: list[Recommendation] = []
    if form.is_valid():
        rows = list(recommendations_list(**form.filters())[:MAX_SHOWN])
    count, usd = open_totals()
    context = {
        "form": form,
        "rows": rows,
        "max_shown": MAX_SHOWN,
        "open_count": count,
        "open_usd": usd,
        "can_change": request.user.has_perm(CHANGE),
    }
    return render(
        request, "dashboard/recommendations.html", context, status=200 if form.is_valid() else 400
    )


@require_POST
def recommendations_recompute_view(request: HttpRequest) -> HttpResponse:
    if not request.user.has_perm(CHANGE):
        raise PermissionDenied
    # In the request, as the API's recompute does: the rules read a week of hourly
    # rollups (seconds at most), and the list shown next must already hold the result.
    summary = recommendations_recompute()
    messages.success(request, f"Recomputed: {summary}.")
    return redirect("dashboard:recommendations")


def _evidence_rows(evidence: Evidence | None) -> list[tuple[str, Any]]:
    """Every figure a rule kept except its chart, as (name, value) for a small table."""
    figures = evidence.figures if evidence is not None else {}
    return [(key.replace("_", " "), _shown(value)) for key, value in figures.items()]


def _shown(value: Any) -> str:
    # Formatting, not checking: a rule's figures are any JSON it chose to keep.
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:,.4g}"
    if isinstance(value, list):
        return ", ".join(_shown(v) for v in value) or "—"
    if isinstance(value, dict):
        return "; ".join(f"{k}: {_shown(v)}" for k, v in value.items()) or "—"
    return str(value)


def _detail(
    request: HttpRequest,
    rec: Recommendation,
    form: RecommendationActionForm | None = None,
    error: str = "",
) -> HttpResponse:
    measured = measured_saving(rec)
    too_early = (
        rec.status == RecommendationStatus.DONE
        and rec.done_at is not None
        and measured is None
        and (timezone.now() - rec.done_at).total_seconds() < MIN_DAYS_AFTER * 86400
    )
    evidence = rec.evidence_record()
    chart = evidence.chart if evidence is not None else None
    context = {
        "rec": rec,
        "evidence": _evidence_rows(evidence),
        "evidence_unreadable": evidence is None,
        "chart": evidence_chart(chart) if chart is not None else None,
        "chart_title": chart.title if chart is not None else "",
        "measured": measured,
        "too_early": too_early,
        "statuses": RecommendationStatus,
        "can_change": request.user.has_perm(CHANGE),
        "form": form or RecommendationActionForm(),
        "error": error,
    }
    return render(
        request, "dashboard/recommendation.html", context, status=400 if form or error else 200
    )


def _get(pk: int) -> Recommendation:
    return get_object_or_404(
        Recommendation.objects.select_related("gpu__node", "deployment__node", "node"), pk=pk
    )


def recommendation_detail(request: HttpRequest, pk: int) -> HttpResponse:
    return _detail(request, _get(pk))


@require_POST
def recommendation_status(request: HttpRequest, pk: int) -> HttpResponse:
    if not request.user.has_perm(CHANGE):
        raise PermissionDenied
    rec = _get(pk)
    form = RecommendationActionForm(request.POST)
    if not form.is_valid():
        return _detail(request, rec, form=form)
    action = form.cleaned_data["action"]
    try:
        if action == "dismiss":
            recommendation_dismiss(rec)
        elif action == "snooze":
            recommendation_snooze(rec, form.snooze_until())
        elif action == "done":
            recommendation_done(rec)
        else:
            recommendation_reopen(rec)
    except ActionError as exc:
        rec.refresh_from_db()  # the service refused: show the row as stored
        return _detail(request, rec, error=str(exc))
    if action == "snooze":
        assert rec.snoozed_until is not None
        messages.success(request, f"Snoozed until {rec.snoozed_until:%Y-%m-%d %H:%M} UTC.")
    else:
        messages.success(request, DONE_MESSAGES[action])
    return redirect("dashboard:recommendation", pk=pk)
