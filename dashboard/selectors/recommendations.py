"""The recommendations list's and one recommendation's page figures."""

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from dashboard.charts.recommendation import evidence_chart
from recommendations.choices import RecommendationStatus
from recommendations.evidence_types import Evidence
from recommendations.models import Recommendation
from recommendations.selectors import (
    MIN_DAYS_AFTER,
    MeasuredSaving,
    measured_saving,
    open_totals,
    recommendations_list,
)

MAX_SHOWN = 200


@dataclass(frozen=True)
class RecommendationsPage:
    rows: list[Recommendation]
    max_shown: int
    open_count: int
    open_usd: Decimal


def recommendations_page(filters: dict[str, str] | None) -> RecommendationsPage:
    """`filters`: the filter form's status and rule; None (an invalid form) lists nothing."""
    rows = [] if filters is None else list(recommendations_list(**filters)[:MAX_SHOWN])
    count, usd = open_totals()
    return RecommendationsPage(rows, MAX_SHOWN, count, usd)


@dataclass(frozen=True)
class RecommendationPage:
    rec: Recommendation
    evidence: list[tuple[str, str]]  # every figure the rule kept except its chart
    evidence_unreadable: bool
    chart: str | None
    chart_title: str
    measured: MeasuredSaving | None
    too_early: bool  # done, and too recently to measure


def recommendation_page(rec: Recommendation, now: datetime) -> RecommendationPage:
    measured = measured_saving(rec)
    too_early = (
        rec.status == RecommendationStatus.DONE
        and rec.done_at is not None
        and measured is None
        and (now - rec.done_at).total_seconds() < MIN_DAYS_AFTER * 86400
    )
    evidence = rec.evidence_record()
    chart = evidence.chart if evidence is not None else None
    return RecommendationPage(
        rec=rec,
        evidence=_evidence_rows(evidence),
        evidence_unreadable=evidence is None,
        chart=evidence_chart(chart) if chart is not None else None,
        chart_title=chart.title if chart is not None else "",
        measured=measured,
        too_early=too_early,
    )


def _evidence_rows(evidence: Evidence | None) -> list[tuple[str, str]]:
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
