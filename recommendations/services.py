"""The daily job: run every rule and merge what they find into the stored list."""

import hashlib
import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils import timezone

from inferscope.lib.stored import RecordError
from inferscope.lib.timerange import hour_floor
from recommendations.choices import RecommendationStatus
from recommendations.evidence_types import evidence_json
from recommendations.models import Recommendation
from recommendations.rules import Context, Finding, Rule, all_rules

ACTIVE = (RecommendationStatus.OPEN, RecommendationStatus.SNOOZED)
FINGERPRINT_MAX = Recommendation._meta.get_field("fingerprint").max_length or 200
TITLE_MAX = Recommendation._meta.get_field("title").max_length or 300
# monthly_saving_usd has 14 digits, 2 after the point: a larger figure is a rule's bug.
MAX_USD = Decimal("1e11")

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Summary:
    found: int
    opened: int
    closed: int
    failed: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        text = f"{self.found} found, {self.opened} new, {self.closed} no longer hold"
        return text + (f"; failed: {', '.join(self.failed)}" if self.failed else "")


def fingerprint_of(rule: str, key: str) -> str:
    """rule:key, or rule:sha1 of the key where a long entity name would not fit."""
    fingerprint = f"{rule}:{key}"
    if len(fingerprint) <= FINGERPRINT_MAX:
        return fingerprint
    return f"{rule}:sha1:{hashlib.sha1(key.encode()).hexdigest()}"


def _values(rule: Rule, finding: Finding, now: datetime) -> dict[str, Any] | None:
    """The row's fields, or None (logged) for a figure the database cannot hold or
    evidence of the wrong shape."""
    if not finding.monthly_saving_usd.is_finite() or abs(finding.monthly_saving_usd) >= MAX_USD:
        logger.error(
            "rule %s: %s states $%s a month", rule.name, finding.key, finding.monthly_saving_usd
        )
        return None
    try:
        evidence = evidence_json(finding.evidence)
    except RecordError as exc:
        logger.error(
            "rule %s: %s stores evidence of the wrong shape: %s", rule.name, finding.key, exc
        )
        return None
    title = finding.title
    if len(title) > TITLE_MAX:
        title = title[: TITLE_MAX - 1] + "\u2026"
    return {
        "rule": rule.name,
        "title": title,
        "action": finding.action,
        "monthly_saving_usd": finding.monthly_saving_usd,
        "arithmetic": finding.arithmetic,
        "confidence": finding.confidence,
        "evidence": evidence,
        "gpu_id": finding.gpu_id,
        "deployment_id": finding.deployment_id,
        "node_id": finding.node_id,
        "last_seen_at": now,
    }


def _upsert(fingerprint: str, values: dict[str, Any], now: datetime) -> bool:
    """Create or update one row; True when it (re)opened."""
    row = Recommendation.objects.filter(fingerprint=fingerprint).first()
    if row is None:
        Recommendation.objects.create(fingerprint=fingerprint, first_seen_at=now, **values)
        return True
    for name, value in values.items():
        setattr(row, name, value)
    opened = False
    if row.status == RecommendationStatus.CLOSED:
        row.status, row.closed_at = RecommendationStatus.OPEN, None
        opened = True
    elif row.status == RecommendationStatus.SNOOZED and (
        row.snoozed_until is None or row.snoozed_until <= now
    ):
        row.status, row.snoozed_until = RecommendationStatus.OPEN, None
    row.save()
    return opened


@transaction.atomic
def recommendations_recompute(
    now: datetime | None = None, rules: list[Rule] | None = None
) -> Summary:
    """Idempotent: the same data gives the same rows. A person's dismissal, snooze
    or "done" survives reruns; a snooze that has run out opens the row again; an
    open or snoozed row whose rule no longer fires closes itself.

    Each rule runs in its own savepoint: one that fails is logged and skipped, its
    stored rows left as they were (not closed), and the other rules still count."""
    now = now or timezone.now()
    ctx = Context(end=hour_floor(now))
    seen: set[str] = set()
    failed: list[str] = []
    opened = 0
    for rule in rules if rules is not None else all_rules():
        try:
            with transaction.atomic():
                found: set[str] = set()
                for finding in rule.evaluate(ctx):
                    fingerprint = fingerprint_of(rule.name, finding.key)
                    values = _values(rule, finding, now)
                    if values is None or fingerprint in found:
                        continue
                    found.add(fingerprint)
                    opened += _upsert(fingerprint, values, now)
        except Exception:
            logger.exception("rule %s failed; its recommendations are kept as they were", rule.name)
            failed.append(rule.name)
            continue
        seen |= found
    closed = (
        Recommendation.objects.filter(status__in=ACTIVE)
        .exclude(fingerprint__in=seen)
        .exclude(rule__in=failed)
        .update(status=RecommendationStatus.CLOSED, closed_at=now, snoozed_until=None)
    )
    return Summary(len(seen), opened, closed, failed)


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
