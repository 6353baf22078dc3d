"""The daily job: idempotent, keeps people's decisions, closes what no longer holds."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from recommendations.choices import Confidence, RecommendationStatus
from recommendations.models import Recommendation
from recommendations.rules.base import Context, Finding, Rule
from recommendations.services import recommendations_recompute

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 11, 23, 6, 30, tzinfo=UTC)


class Fixed(Rule):
    """A rule that finds what the test says: the job is under test, not a rule."""

    name = "fixed"

    def __init__(self, keys: list[str], usd: str = "100.00") -> None:
        self.keys, self.usd = keys, usd
        self.windows: list[Context] = []

    def evaluate(self, ctx: Context) -> list[Finding]:
        self.windows.append(ctx)
        return [
            Finding(key, f"Do {key}", f"Do {key}.", Decimal(self.usd), "x", Confidence.HIGH)
            for key in self.keys
        ]


def statuses() -> dict[str, str]:
    return dict(Recommendation.objects.values_list("fingerprint", "status"))


def test_a_rerun_changes_nothing_and_updates_the_figures():
    rule = Fixed(["a", "b"])
    assert str(recommendations_recompute(NOW, [rule])) == "2 found, 2 new, 0 no longer hold"
    first = {r.fingerprint: r.pk for r in Recommendation.objects.all()}
    summary = recommendations_recompute(NOW + timedelta(days=1), [Fixed(["a", "b"], "120.00")])
    assert (summary.found, summary.opened, summary.closed) == (2, 0, 0)
    assert {r.fingerprint: r.pk for r in Recommendation.objects.all()} == first
    assert set(Recommendation.objects.values_list("monthly_saving_usd", flat=True)) == {
        Decimal("120.00")
    }
    # The window is the 7 days of whole hours before the run.
    assert rule.windows[0].end == datetime(2026, 11, 23, 6, tzinfo=UTC)
    assert rule.windows[0].start == datetime(2026, 11, 16, 6, tzinfo=UTC)


def test_dismissed_and_done_survive_and_a_snooze_runs_out():
    recommendations_recompute(NOW, [Fixed(["a", "b", "c"])])
    Recommendation.objects.filter(fingerprint="fixed:a").update(
        status=RecommendationStatus.DISMISSED
    )
    Recommendation.objects.filter(fingerprint="fixed:b").update(
        status=RecommendationStatus.SNOOZED, snoozed_until=NOW + timedelta(days=3)
    )
    Recommendation.objects.filter(fingerprint="fixed:c").update(status=RecommendationStatus.DONE)
    recommendations_recompute(NOW + timedelta(days=1), [Fixed(["a", "b", "c"])])
    assert statuses() == {"fixed:a": "dismissed", "fixed:b": "snoozed", "fixed:c": "done"}
    recommendations_recompute(NOW + timedelta(days=4), [Fixed(["a", "b", "c"])])
    assert statuses() == {"fixed:a": "dismissed", "fixed:b": "open", "fixed:c": "done"}


def test_what_no_longer_holds_closes_itself_and_reopens_if_it_comes_back():
    recommendations_recompute(NOW, [Fixed(["a", "b"])])
    summary = recommendations_recompute(NOW + timedelta(days=1), [Fixed(["a"])])
    assert summary.closed == 1
    assert statuses() == {"fixed:a": "open", "fixed:b": "closed"}
    assert Recommendation.objects.get(fingerprint="fixed:b").closed_at == NOW + timedelta(days=1)
    summary = recommendations_recompute(NOW + timedelta(days=2), [Fixed(["a", "b"])])
    assert (summary.opened, statuses()["fixed:b"]) == (1, "open")


def test_the_registered_rules_run_on_an_empty_fleet():
    assert str(recommendations_recompute(NOW)) == "0 found, 0 new, 0 no longer hold"


def test_every_rule_module_is_registered_in_one_place():
    from pathlib import Path

    from recommendations.rules import RULE_MODULES, RULES

    folder = Path(__file__).resolve().parents[2] / "recommendations" / "rules"
    helpers = {"__init__", "base", "cheaper_gpu", "spot"}  # modules that register no rule
    modules = {p.stem for p in folder.glob("*.py")} - helpers
    assert set(RULE_MODULES) == modules
    assert len(RULES) == len(RULE_MODULES) == 10


class Broken(Rule):
    name = "broken"

    def evaluate(self, ctx: Context) -> list[Finding]:
        raise ZeroDivisionError("a rule's bug")


def test_a_failing_rule_is_skipped_and_keeps_its_rows_while_the_others_count(caplog):
    kept = Recommendation.objects.create(
        rule="broken", fingerprint="broken:x", title="t", action="a",
        monthly_saving_usd=Decimal(1), arithmetic="x", confidence=Confidence.LOW,
        first_seen_at=NOW, last_seen_at=NOW,
    )  # fmt: skip
    summary = recommendations_recompute(now=NOW, rules=[Broken(), Fixed(["a"])])
    assert summary.failed == ["broken"] and summary.found == 1
    assert "failed: broken" in str(summary)
    assert statuses() == {"broken:x": "open", "fixed:a": "open"}
    assert "rule broken failed" in caplog.text
    kept.refresh_from_db()
    assert kept.status == RecommendationStatus.OPEN


class Long(Rule):
    """Names as long as the models allow, and a figure no saving can reach."""

    name = "long"

    def evaluate(self, ctx: Context) -> list[Finding]:
        return [
            Finding("s" * 250, "T" * 400, "Do it.", Decimal(5), "x", Confidence.LOW),
            Finding("absurd", "t", "Do it.", Decimal("1e13"), "x", Confidence.LOW),
        ]


def test_long_names_are_hashed_and_cut_and_absurd_figures_dropped(caplog):
    summary = recommendations_recompute(now=NOW, rules=[Long()])
    (row,) = Recommendation.objects.all()
    assert summary.found == 1
    assert row.fingerprint.startswith("long:sha1:") and len(row.fingerprint) <= 200
    assert len(row.title) == 300 and row.title.endswith("\u2026")
    assert "states $1E+13 a month" in caplog.text
    recommendations_recompute(now=NOW, rules=[Long()])
    assert Recommendation.objects.count() == 1  # the same hash: idempotent
