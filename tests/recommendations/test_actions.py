"""What people do with a recommendation, through the services and the API, and the
saving measured once one is done."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.test import Client

from collectors.models import Deployment, Gpu, Node
from recommendations.choices import Confidence, RecommendationStatus
from recommendations.models import Recommendation
from recommendations.selectors import measured_saving, open_totals, top_open
from recommendations.services import (
    ActionError,
    recommendation_done,
    recommendation_snooze,
    recommendations_recompute,
)
from tests.builders.hours import cost_hours

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 11, 23, 6, 0, tzinfo=UTC)
API = "/api/v1/recommendations/"


def rec(key: str, usd: str, **fields) -> Recommendation:
    return Recommendation.objects.create(
        rule="idle_gpus",
        fingerprint=f"idle_gpus:{key}",
        title=f"Release {key}",
        action=f"Release {key}.",
        monthly_saving_usd=Decimal(usd),
        arithmetic="x",
        confidence=Confidence.HIGH,
        first_seen_at=NOW,
        last_seen_at=NOW,
        **fields,
    )


def hourly_cost(gpu: Gpu, start: datetime, hours: int, usd: str, deployment=None) -> None:
    cost_hours(gpu, deployment, usd, hours, start + timedelta(hours=hours))


@pytest.fixture
def gpu() -> Gpu:
    return Gpu.objects.create(node=Node.objects.create(name="n1"), uuid="GPU-1", index=0)


def test_the_tile_takes_the_three_largest_open_savings_and_totals_exclude_costs():
    for key, usd in [("a", "10.00"), ("b", "300.00"), ("c", "50.00"), ("d", "120.00")]:
        rec(key, usd)
    rec("e", "999.00", status=RecommendationStatus.DISMISSED)
    rec("capacity", "-500.00")  # adding a replica costs money: not a saving
    assert [r.title for r in top_open()] == ["Release b", "Release d", "Release c"]
    assert open_totals() == (5, Decimal("480.00"))


def test_snooze_needs_a_future_time_within_a_year_and_something_to_snooze():
    row = rec("a", "10.00")
    with pytest.raises(ActionError, match="future"):
        recommendation_snooze(row, NOW - timedelta(hours=1), now=NOW)
    with pytest.raises(ActionError, match="at most 365 days"):
        recommendation_snooze(row, NOW + timedelta(days=400), now=NOW)
    row.refresh_from_db()
    assert row.status == RecommendationStatus.OPEN
    closed = rec("b", "10.00", status=RecommendationStatus.CLOSED)
    with pytest.raises(ActionError, match="no longer holds"):
        recommendation_snooze(closed, NOW + timedelta(days=1), now=NOW)


def test_a_done_recommendation_measures_the_saving_since(gpu):
    dep = Deployment.objects.create(node=gpu.node, name="chat")
    done_at = NOW - timedelta(days=3)
    # The week before: $2.50 an hour, $60.00 a day. Since: $1.00 an hour, $24.00 a day.
    hourly_cost(gpu, done_at - timedelta(days=7), 7 * 24, "2.50", deployment=dep)
    hourly_cost(gpu, done_at, 3 * 24, "1.00", deployment=dep)
    row = rec("a", "100.00", deployment=dep)
    assert measured_saving(row, now=NOW) is None  # not done yet
    recommendation_done(row, now=done_at)
    assert measured_saving(row, now=done_at + timedelta(hours=12)) is None  # too early
    measured = measured_saving(row, now=NOW)
    assert measured is not None
    assert (measured.before_usd_per_day, measured.after_usd_per_day) == (
        Decimal("60.00"),
        Decimal("24.00"),
    )
    # ($60.00 - $24.00) a day x 30.4375 = $1,095.75 a month.
    assert measured.monthly_usd == Decimal("1095.75")
    assert measured.days_after == 3.0


def test_a_service_recommendation_measures_every_replica_it_names(gpu):
    other = Gpu.objects.create(node=gpu.node, uuid="GPU-2", index=1)
    a = Deployment.objects.create(node=gpu.node, name="chat-a")
    b = Deployment.objects.create(node=gpu.node, name="chat-b")
    done_at = NOW - timedelta(days=2)
    hourly_cost(gpu, done_at - timedelta(days=7), 7 * 24, "1.00", deployment=a)
    hourly_cost(other, done_at - timedelta(days=7), 7 * 24, "1.00", deployment=b)
    hourly_cost(gpu, done_at, 2 * 24, "1.00", deployment=a)  # b was released
    row = rec("svc", "700.00", deployment=a, evidence={"deployment_ids": [a.pk, b.pk]})
    recommendation_done(row, now=done_at)
    measured = measured_saving(row, now=NOW)
    assert measured is not None
    # $48.00 a day before, $24.00 since: $24.00 x 30.4375 = $730.50 a month.
    assert measured.monthly_usd == Decimal("730.50")


def test_the_api_needs_a_login_and_the_change_permission(client: Client, teammate, owner):
    row = rec("a", "10.00")
    assert client.get(API).status_code in (401, 403)
    client.force_login(teammate)
    listed = client.get(API).json()["results"]
    assert [(r["id"], r["monthly_saving_usd"]) for r in listed] == [(row.pk, "10.00")]
    denied = client.post(f"{API}{row.pk}/status", {"action": "dismiss"}, "application/json")
    assert denied.status_code == 403
    assert client.post(f"{API}recompute").status_code == 403
    client.force_login(owner)
    done = client.post(f"{API}{row.pk}/status", {"action": "dismiss"}, "application/json")
    assert done.status_code == 200 and done.json()["status"] == "dismissed"
    assert client.get(API).json()["results"] == []
    dismissed = client.get(API, {"status": "dismissed"}).json()["results"]
    assert [r["id"] for r in dismissed] == [row.pk]


def test_the_api_refuses_bad_input_with_field_errors_and_changes_nothing(client: Client, owner):
    row = rec("a", "10.00")
    client.force_login(owner)
    cases = [
        ({"action": "explode"}, "action"),
        ({"action": "snooze"}, "until"),
        ({"action": "snooze", "until": "tomorrow-ish"}, "until"),
        ({"action": "snooze", "until": "2001-01-01T00:00:00Z"}, "action"),
    ]
    for body, field in cases:
        response = client.post(f"{API}{row.pk}/status", body, "application/json")
        assert response.status_code == 400, body
        assert [e["field"] for e in response.json()["errors"]] == [field], body
    assert client.get(API, {"status": "nope"}).status_code == 400
    assert client.get(API, {"rule": "nope"}).json()["errors"][0]["field"] == "rule"
    assert client.get(f"{API}999999").status_code == 404
    row.refresh_from_db()
    assert row.status == RecommendationStatus.OPEN


def test_recompute_on_demand_runs_the_rules(client: Client, owner, gpu):
    # An idle GPU with a week of data up to now: rule 1 finds it when asked, not
    # only daily.
    from django.utils import timezone

    from tests.recommendations.idle_fleet import week

    hour = timezone.now().replace(minute=0, second=0, microsecond=0)
    week(gpu, util=1.0, end=hour)
    client.force_login(owner)
    response = client.post(f"{API}recompute")
    assert response.status_code == 200
    assert response.json()["opened"] >= 1
    assert Recommendation.objects.filter(rule="idle_gpus", gpu=gpu).exists()
    detail = client.get(f"{API}{Recommendation.objects.get(gpu=gpu).pk}").json()
    assert detail["evidence"]["hours"] >= 24 and detail["measured_saving"] is None


def test_recompute_keeps_a_done_row_done(gpu):
    from tests.recommendations.idle_fleet import END, week

    week(gpu, util=1.0)
    recommendations_recompute(now=END)
    row = Recommendation.objects.get(gpu=gpu)
    recommendation_done(row, now=END)
    recommendations_recompute(now=END + timedelta(hours=1))
    row.refresh_from_db()
    assert row.status == RecommendationStatus.DONE
