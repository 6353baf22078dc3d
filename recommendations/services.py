"""The daily job: run every rule and merge what they find into the stored list."""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from recommendations.choices import RecommendationStatus
from recommendations.models import Recommendation
from recommendations.rules import Context, Rule, all_rules

ACTIVE = (RecommendationStatus.OPEN, RecommendationStatus.SNOOZED)


@dataclass(frozen=True)
class Summary:
    found: int
    opened: int
    closed: int

    def __str__(self) -> str:
        return f"{self.found} found, {self.opened} new, {self.closed} no longer hold"


def _hour(now: datetime) -> datetime:
    return now.replace(minute=0, second=0, microsecond=0)


@transaction.atomic
def recommendations_recompute(
    now: datetime | None = None, rules: list[Rule] | None = None
) -> Summary:
    """Idempotent: the same data gives the same rows. A person's dismissal, snooze
    or "done" survives reruns; a snooze that has run out opens the row again; an
    open or snoozed row whose rule no longer fires closes itself."""
    now = now or timezone.now()
    ctx = Context(end=_hour(now))
    seen: set[str] = set()
    opened = 0
    for rule in rules if rules is not None else all_rules():
        for finding in rule.evaluate(ctx):
            fingerprint = f"{rule.name}:{finding.key}"
            seen.add(fingerprint)
            values = {
                "rule": rule.name,
                "title": finding.title,
                "action": finding.action,
                "monthly_saving_usd": finding.monthly_saving_usd,
                "arithmetic": finding.arithmetic,
                "confidence": finding.confidence,
                "evidence": finding.evidence,
                "gpu_id": finding.gpu_id,
                "deployment_id": finding.deployment_id,
                "node_id": finding.node_id,
                "last_seen_at": now,
            }
            row = Recommendation.objects.filter(fingerprint=fingerprint).first()
            if row is None:
                Recommendation.objects.create(fingerprint=fingerprint, first_seen_at=now, **values)
                opened += 1
                continue
            for name, value in values.items():
                setattr(row, name, value)
            if row.status == RecommendationStatus.CLOSED:
                row.status, row.closed_at = RecommendationStatus.OPEN, None
                opened += 1
            elif row.status == RecommendationStatus.SNOOZED and (
                row.snoozed_until is None or row.snoozed_until <= now
            ):
                row.status, row.snoozed_until = RecommendationStatus.OPEN, None
            row.save()
    closed = (
        Recommendation.objects.filter(status__in=ACTIVE)
        .exclude(fingerprint__in=seen)
        .update(status=RecommendationStatus.CLOSED, closed_at=now, snoozed_until=None)
    )
    return Summary(len(seen), opened, closed)


class ActionError(ValueError):
    """A status change that cannot apply; the message is for the person who asked."""


MAX_SNOOZE_DAYS = 365


def recommendation_dismiss(rec: Recommendation, now: datetime | None = None) -> Recommendation:
    """Not worth doing: reruns keep it dismissed until someone reopens it."""
    rec.status, rec.snoozed_until, rec.done_at = RecommendationStatus.DISMISSED, None, None
    rec.save(update_fields=["status", "snoozed_until", "done_at"])
    return rec


def recommendation_snooze(
    rec: Recommendation, until: datetime, now: datetime | None = None
) -> Recommendation:
    """Hidden until `until`; the first daily run after it opens it again if it holds."""
    now = now or timezone.now()
    if until <= now:
        raise ActionError("Snooze until a time in the future.")
    if until > now + timedelta(days=MAX_SNOOZE_DAYS):
        raise ActionError(f"Snooze for at most {MAX_SNOOZE_DAYS} days; dismiss it instead.")
    if rec.status == RecommendationStatus.CLOSED:
        raise ActionError("It no longer holds: there is nothing to snooze.")
    rec.status, rec.snoozed_until, rec.done_at = RecommendationStatus.SNOOZED, until, None
    rec.save(update_fields=["status", "snoozed_until", "done_at"])
    return rec


def recommendation_done(rec: Recommendation, now: datetime | None = None) -> Recommendation:
    """Carried out at `now`: from then on its page compares the cost before and since."""
    if rec.status == RecommendationStatus.CLOSED:
        raise ActionError("It no longer holds: reopen it first if you acted on it.")
    rec.status, rec.snoozed_until = RecommendationStatus.DONE, None
    rec.done_at = now or timezone.now()
    rec.save(update_fields=["status", "snoozed_until", "done_at"])
    return rec


def recommendation_reopen(rec: Recommendation) -> Recommendation:
    rec.status, rec.snoozed_until, rec.done_at = RecommendationStatus.OPEN, None, None
    rec.closed_at = None
    rec.save(update_fields=["status", "snoozed_until", "done_at", "closed_at"])
    return rec
