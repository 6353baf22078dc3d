"""The Recommendations pages: the list by saving, one recommendation with its evidence
and chart, its status buttons and their refusals, the measured saving of a done one,
the recompute button and the overview's tile."""

import html
import json
import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.utils import timezone

from recommendations.choices import RecommendationStatus
from recommendations.models import Recommendation
from tests.builders.hours import cost_hours, gpu_week
from tests.dashboard.recommendation_data import CHART, rec, small_fleet

pytestmark = pytest.mark.django_db


def text(response) -> str:  # type: ignore[no-untyped-def]
    return html.unescape(response.content.decode())


@pytest.fixture
def signed_in(owner: User) -> Client:
    client = Client()
    client.force_login(owner)
    return client


def stored(r: Recommendation) -> tuple:
    r.refresh_from_db()
    return (r.status, r.snoozed_until, r.done_at, r.closed_at)


@pytest.mark.parametrize(
    "method, path",
    [
        ("get", "/recommendations/"),
        ("get", "/recommendations/1/"),
        ("post", "/recommendations/1/status"),
        ("post", "/recommendations/recompute"),
    ],
)
def test_the_pages_send_a_visitor_to_the_login(client: Client, method: str, path: str) -> None:
    response = getattr(client, method)(path)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_an_empty_list_says_so_and_the_nav_marks_the_page(signed_in: Client) -> None:
    page = text(signed_in.get("/recommendations/"))
    assert "No recommendations match" in page
    assert 'aria-current="page">Recommendations<' in page
    assert "Recompute now" in page


def test_the_list_is_sorted_by_saving_and_states_a_cost_as_a_cost(signed_in: Client) -> None:
    _, gpu, dep = small_fleet()
    rec("small", "100.00", gpu=gpu)
    rec("big", "500.00", deployment=dep)
    rec("capacity", "-200.00", rule="scale_up", deployment=dep)
    rec("old", "900.00", status=RecommendationStatus.DISMISSED)
    response = signed_in.get("/recommendations/")
    assert response.status_code == 200
    assert [r.title for r in response.context["rows"]] == ["Do big", "Do small", "Do capacity"]
    page = text(response)
    assert "costs $200.00/month" in page and "$500.00/month" in page
    assert "Do old" not in page
    # Totals: three open, and the two savings together (a cost is not netted).
    assert re.search(r'id="open-count">3<', page)
    assert "$600.00/month" in page
    # Each row links its entity's page.
    assert f'href="/deployments/{dep.pk}/">chat on gpu-node-1<' in page
    assert f'href="/gpus/{gpu.pk}/">gpu-node-1 #0 H100 SXM<' in page


def test_the_status_and_rule_filters(signed_in: Client) -> None:
    rec("a", "100.00")
    rec("b", "50.00", status=RecommendationStatus.DISMISSED)
    rec("c", "70.00", rule="other_rule")
    dismissed = signed_in.get("/recommendations/?status=dismissed")
    assert [r.title for r in dismissed.context["rows"]] == ["Do b"]
    by_rule = signed_in.get("/recommendations/?status=open&rule=idle_gpus")
    assert [r.title for r in by_rule.context["rows"]] == ["Do a"]
    # A blank status is the default: open.
    assert len(signed_in.get("/recommendations/?status=&rule=").context["rows"]) == 2
    for bad in ("status=nonsense", "rule=no_such_rule"):
        refused = signed_in.get(f"/recommendations/?{bad}")
        assert refused.status_code == 400
        assert "Select a valid choice" in text(refused)


def test_the_detail_shows_the_saving_its_arithmetic_the_evidence_and_the_chart(
    signed_in: Client,
) -> None:
    _, _, dep = small_fleet()
    r = rec("batch", "1234.50", deployment=dep, evidence={"hours": 168, "chart": CHART})
    response = signed_in.get(f"/recommendations/{r.pk}/")
    assert response.status_code == 200
    page = text(response)
    assert "Do batch now." in page and "$1,234.50/month" in page
    assert "batch: $1 x 30.4375 = $1234.50 per month" in page
    assert "<th>hours</th><td>168</td>" in page
    assert "<th>chart</th>" not in page  # the chart is drawn, not tabled
    assert 'id="chart-recommendation"' in page and "/static/plotly/plotly.min.js" in page
    assert "cdn" not in page.lower()
    assert "Batch in flight, by hour" in page
    drawn = re.search(r'Plotly\.newPlot\(\s*"chart-recommendation",\s*(\[.*?\]),\s*\{', page, re.S)
    assert drawn is not None
    figure = json.loads(drawn.group(1))
    assert figure[0]["name"] == "p95 running" and figure[0]["y"] == [3.0, 4.5, None]
    assert "max batch 256" in page  # the reference line's name
    assert '"y0":256' in page.replace(" ", "")


def test_a_detail_without_a_chart_says_so_and_odd_evidence_does_not_fail(
    signed_in: Client,
) -> None:
    r = rec("odd", "10.00", evidence={"chart": {"x": "not a list"}, "nested": {"a": [1, 2.5]}})
    page = text(signed_in.get(f"/recommendations/{r.pk}/"))
    assert "This rule keeps no chart" in page
    assert "plotly.min.js" not in page
    assert "a: 1, 2.5" in page
    assert signed_in.get("/recommendations/999999/").status_code == 404


def test_evidence_that_is_not_an_object_is_shown_as_unreadable(
    signed_in: Client, caplog: pytest.LogCaptureFixture
) -> None:
    r = rec("junk", "10.00", evidence=["not", "an", "object"])
    page = text(signed_in.get(f"/recommendations/{r.pk}/"))
    assert "The stored evidence is unreadable" in page
    assert "This rule keeps no chart" in page
    assert f"unreadable evidence of recommendation {r.pk}" in caplog.text


def test_an_old_shape_chart_without_lines_or_kind_still_draws(signed_in: Client) -> None:
    old = {"title": "Old", "x": [1, 8], "series": [{"name": "a", "y": [1, 2]}]}
    r = rec("old", "10.00", evidence={"hours": 1, "chart": old})
    page = text(signed_in.get(f"/recommendations/{r.pk}/"))
    assert 'id="chart-recommendation"' in page and "Old" in page


@pytest.mark.parametrize(
    "post, status",
    [
        ({"action": "dismiss"}, RecommendationStatus.DISMISSED),
        ({"action": "done"}, RecommendationStatus.DONE),
        ({"action": "snooze", "days": "7"}, RecommendationStatus.SNOOZED),
    ],
)
def test_each_action_changes_the_status(signed_in: Client, post: dict, status: str) -> None:
    r = rec("a", "100.00")
    response = signed_in.post(f"/recommendations/{r.pk}/status", post, follow=True)
    assert response.redirect_chain == [(f"/recommendations/{r.pk}/", 302)]
    r.refresh_from_db()
    assert r.status == status
    page = text(response)
    assert 'class="message-success"' in page
    if status == RecommendationStatus.SNOOZED:
        assert r.snoozed_until is not None
        assert timedelta(days=6.9) < r.snoozed_until - timezone.now() <= timedelta(days=7)
    if status == RecommendationStatus.DONE:
        assert r.done_at is not None
        assert "Too early to measure" in page


def test_a_snooze_until_a_date_and_a_reopen(signed_in: Client) -> None:
    r = rec("a", "100.00")
    day = timezone.now().date() + timedelta(days=10)
    signed_in.post(f"/recommendations/{r.pk}/status", {"action": "snooze", "until": str(day)})
    r.refresh_from_db()
    assert r.status == RecommendationStatus.SNOOZED
    assert r.snoozed_until == datetime(day.year, day.month, day.day, tzinfo=UTC)
    assert "Do a" not in text(signed_in.get("/recommendations/"))
    signed_in.post(f"/recommendations/{r.pk}/status", {"action": "reopen"})
    assert stored(r) == (RecommendationStatus.OPEN, None, None, None)


@pytest.mark.parametrize(
    "post, message",
    [
        ({"action": "explode"}, "Select a valid choice"),
        ({}, "This field is required"),
        ({"action": "snooze"}, "Snooze for 1, 7 or 30 days, or until a date"),
        ({"action": "snooze", "days": "5"}, "Select a valid choice"),
        ({"action": "snooze", "until": "2020-01-01"}, "Pick a date after today"),
        ({"action": "snooze", "until": "not a date"}, "Enter a valid date"),
        ({"action": "snooze", "days": "1", "until": "2999-01-01"}, "one of them"),
        ({"action": "snooze", "until": "2999-01-01"}, "Snooze for at most 365 days"),
    ],
)
def test_bad_input_answers_400_with_its_message_and_changes_nothing(
    signed_in: Client, post: dict, message: str
) -> None:
    r = rec("a", "100.00")
    before = stored(r)
    response = signed_in.post(f"/recommendations/{r.pk}/status", post)
    assert response.status_code == 400
    assert message in text(response)
    assert stored(r) == before


@pytest.mark.parametrize(
    "post, message",
    [
        ({"action": "snooze", "days": "7"}, "nothing to snooze"),
        ({"action": "done"}, "reopen it first"),
    ],
)
def test_a_closed_one_cannot_be_snoozed_or_done(
    signed_in: Client, post: dict, message: str
) -> None:
    closed = timezone.now() - timedelta(hours=2)
    r = rec("a", "100.00", status=RecommendationStatus.CLOSED, closed_at=closed)
    response = signed_in.post(f"/recommendations/{r.pk}/status", post)
    assert response.status_code == 400
    assert message in text(response)
    assert stored(r) == (RecommendationStatus.CLOSED, None, None, closed)


def test_a_teammate_reads_but_may_not_change_or_recompute(client: Client, teammate) -> None:
    r = rec("a", "100.00")
    client.force_login(teammate)
    page = text(client.get(f"/recommendations/{r.pk}/"))
    assert "Do a now." in page and "Dismiss" not in page
    assert "Recompute now" not in text(client.get("/recommendations/"))
    assert client.post(f"/recommendations/{r.pk}/status", {"action": "dismiss"}).status_code == 403
    assert client.post("/recommendations/recompute").status_code == 403
    assert stored(r)[0] == RecommendationStatus.OPEN


def test_a_get_on_an_action_url_is_refused(signed_in: Client) -> None:
    r = rec("a", "100.00")
    assert signed_in.get(f"/recommendations/{r.pk}/status").status_code == 405
    assert signed_in.get("/recommendations/recompute").status_code == 405


def test_a_done_one_shows_the_cost_measured_before_and_since(signed_in: Client) -> None:
    _, gpu, dep = small_fleet()
    done_at = timezone.now() - timedelta(days=2)
    r = rec("a", "800.00", deployment=dep, status=RecommendationStatus.DONE, done_at=done_at)
    # The week before: $2 an hour, $48 a day. Since: $1 an hour, $24 a day.
    cost_hours(gpu, dep, "2.00", 7 * 24, end=done_at)
    cost_hours(gpu, dep, "1.00", 48, end=done_at + timedelta(hours=48))
    response = signed_in.get(f"/recommendations/{r.pk}/")
    measured = response.context["measured"]
    assert (measured.before_usd_per_day, measured.after_usd_per_day) == (
        Decimal("48.00"),
        Decimal("24.00"),
    )
    # ($48 - $24) a day x 30.4375 days = $730.50 a month.
    assert measured.monthly_usd == Decimal("730.50")
    page = text(response)
    assert "$48.00/day" in page and "$24.00/day" in page
    assert "$730.50/month" in page and "against $800.00/month expected" in page
    assert "Too early" not in page


def test_recompute_now_runs_the_rules_and_lists_what_they_found(signed_in: Client) -> None:
    _, gpu, _ = small_fleet()
    end = timezone.now().replace(minute=0, second=0, microsecond=0)
    gpu_week(gpu, util=2.0, end=end)  # 2% busy: the idle-GPU rule fires
    response = signed_in.post("/recommendations/recompute", follow=True)
    assert response.redirect_chain == [("/recommendations/", 302)]
    found = Recommendation.objects.get(rule="idle_gpus")
    assert found.gpu_id == gpu.pk and found.status == RecommendationStatus.OPEN
    page = text(response)
    assert "Recomputed: " in page and "1 new" in page
    assert found.title in page


def test_the_overview_tile_lists_the_top_three(client: Client, teammate, fleet: datetime) -> None:
    client.force_login(teammate)
    assert "No open recommendations" in text(client.get("/"))
    for key, usd in (("a", "10.00"), ("b", "400.00"), ("c", "30.00"), ("d", "20.00")):
        rec(key, usd)
    rec("gone", "999.00", status=RecommendationStatus.DISMISSED)
    response = client.get("/")
    tile = text(response).split('id="top-recommendations"')[1].split("</section>")[0]
    assert [r.title for r in response.context["top_recommendations"]] == ["Do b", "Do c", "Do d"]
    assert "Do a" not in tile and "Do gone" not in tile
    assert "$400.00/month" in tile
    assert "4 open recommendations" in tile and "$460.00/month together" in tile
