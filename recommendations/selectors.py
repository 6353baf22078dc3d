"""Reads over stored recommendations for the pages, the overview tile and the API."""

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.db.models import Count, Q, QuerySet, Sum
from django.utils import timezone

from costs.selectors import entity_usd
from inferscope.lib.money import DAYS_PER_MONTH, cents
from recommendations.choices import RecommendationStatus
from recommendations.constants import WINDOW_DAYS
from recommendations.models import Recommendation

# A day is the least that says anything: one hour after a change is noise.
MIN_DAYS_AFTER = 1


def recommendations_list(status: str = "", rule: str = "") -> QuerySet[Recommendation]:
    """Largest saving first. No status: what needs a decision (open, and snoozed
    ones whose time has come, which the next daily run reopens)."""
    rows = Recommendation.objects.select_related("gpu", "deployment", "node")
    rows = rows.filter(status=status or RecommendationStatus.OPEN)
    if rule:
        rows = rows.filter(rule=rule)
    return rows


def top_open(limit: int = 3) -> list[Recommendation]:
    """The overview's tile: the open recommendations that save the most."""
    return list(recommendations_list()[:limit])


def open_totals() -> tuple[int, Decimal]:
    """How many open recommendations there are and what they save per month together
    (capacity additions, which cost money, are not netted against the savings)."""
    sums = Recommendation.objects.filter(status=RecommendationStatus.OPEN).aggregate(
        n=Count("id"), usd=Sum("monthly_saving_usd", filter=Q(monthly_saving_usd__gt=0))
    )
    return sums["n"], sums["usd"] or Decimal(0)


@dataclass(frozen=True)
class MeasuredSaving:
    before_usd_per_day: Decimal
    after_usd_per_day: Decimal
    days_after: float

    @property
    def monthly_usd(self) -> Decimal:
        return cents((self.before_usd_per_day - self.after_usd_per_day) * DAYS_PER_MONTH)


def _entity_usd(rec: Recommendation, start: datetime, end: datetime) -> Decimal | None:
    """$ over [start, end) of what the recommendation is about: the deployments it
    names (a service's replicas), else its deployment, GPU or node; None without one."""
    evidence = rec.evidence_record()
    ids = evidence.deployment_ids if evidence is not None else []
    if ids:
        return entity_usd(start, end, deployment_ids=ids)
    if rec.deployment_id:
        return entity_usd(start, end, deployment_ids=[rec.deployment_id])
    if rec.gpu_id:
        return entity_usd(start, end, gpu_id=rec.gpu_id)
    if rec.node_id:
        return entity_usd(start, end, node_id=rec.node_id)
    return None


def measured_saving(rec: Recommendation, now: datetime | None = None) -> MeasuredSaving | None:
    """For a done recommendation: its entity's $ per day in the week before it was
    done against $ per day since, once a full day has passed. None until then, or
    when the entity is gone."""
    if rec.status != RecommendationStatus.DONE or rec.done_at is None:
        return None
    now = now or timezone.now()
    days_after = (now - rec.done_at).total_seconds() / 86400
    if days_after < MIN_DAYS_AFTER:
        return None
    before_usd = _entity_usd(rec, rec.done_at - timedelta(days=WINDOW_DAYS), rec.done_at)
    after_usd = _entity_usd(rec, rec.done_at, now)
    if before_usd is None or after_usd is None:
        return None
    before = before_usd / WINDOW_DAYS
    after = after_usd / Decimal(str(days_after))
    return MeasuredSaving(cents(before), cents(after), round(days_after, 1))
