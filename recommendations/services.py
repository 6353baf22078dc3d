"""The daily job: run every rule and merge what they find into the stored list."""

from dataclasses import dataclass
from datetime import datetime

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
