"""Recommendations: the list by saving, one recommendation with its evidence, its
status buttons, and a button that runs every rule now."""

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from dashboard.recommendation_forms import RecommendationActionForm, RecommendationFilterForm
from dashboard.selectors.recommendations import recommendation_page, recommendations_page
from dashboard.selectors.scope import context_of
from recommendations.choices import RecommendationStatus
from recommendations.models import Recommendation
from recommendations.services import (
    ActionError,
    recommendation_dismiss,
    recommendation_done,
    recommendation_reopen,
    recommendation_snooze,
    recommendations_recompute,
)

CHANGE = "recommendations.change_recommendation"
DONE_MESSAGES = {
    "dismiss": "Dismissed: reruns keep it dismissed until someone reopens it.",
    "done": "Marked done: this page now compares the cost before and since.",
    "reopen": "Reopened.",
}


def recommendations(request: HttpRequest) -> HttpResponse:
    form = RecommendationFilterForm(request.GET or {"status": RecommendationStatus.OPEN})
    page = recommendations_page(form.filters() if form.is_valid() else None)
    context = {"form": form, **context_of(page), "can_change": request.user.has_perm(CHANGE)}
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


def _detail(
    request: HttpRequest,
    rec: Recommendation,
    form: RecommendationActionForm | None = None,
    error: str = "",
) -> HttpResponse:
    context = {
        **context_of(recommendation_page(rec, timezone.now())),
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
