"""The recommendations pages in a real browser, offline. Screenshots go to
$SCREENSHOT_DIR (default var/screenshots), which .ci/run keeps."""

import os
from pathlib import Path

import pytest
from django.contrib.auth.models import User

from recommendations.models import Recommendation
from tests.dashboard.recommendation_data import CHART, rec, small_fleet

pytestmark = pytest.mark.django_db(transaction=True)
SCREENSHOTS = Path(os.environ.get("SCREENSHOT_DIR", "var/screenshots"))


def test_a_recommendation_draws_its_evidence_offline_and_dismissing_it_clears_the_list(
    page, live_server
):  # type: ignore[no-untyped-def]
    User.objects.create_superuser("ana", "ana@example.org", "ana-password-1")
    _, _, dep = small_fleet()
    target = rec("batch", "1234.50", deployment=dep, evidence={"hours": 168, "chart": CHART})
    rec("other", "10.00")
    errors: list[str] = []
    requested: list[str] = []
    page.on(
        "console", lambda message: errors.append(message.text) if message.type == "error" else None
    )
    page.on("request", lambda request: requested.append(request.url))
    page.goto(live_server.url + "/accounts/login/")
    page.fill("#id_username", "ana")
    page.fill("#id_password", "ana-password-1")
    page.click("button[type=submit]")
    page.wait_for_url(live_server.url + "/")
    page.click("nav >> text=Recommendations")
    page.wait_for_url(live_server.url + "/recommendations/")
    assert "$1,234.50/month" in page.inner_text("table.recommendations")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "recommendations.png"), full_page=True)
    page.click(f"a[href='/recommendations/{target.pk}/']")
    page.wait_for_url(f"{live_server.url}/recommendations/{target.pk}/")
    page.wait_for_selector("#chart-recommendation svg.main-svg")
    assert "max batch 256" in page.inner_text("#chart-recommendation")  # the reference line
    page.screenshot(path=str(SCREENSHOTS / "recommendation.png"), full_page=True)
    page.click("button[value=dismiss]")
    page.wait_for_url(f"{live_server.url}/recommendations/{target.pk}/")
    assert "Dismissed" in page.inner_text(".messages")
    assert page.inner_text("#rec-status").startswith("Dismissed")
    page.click("text=← Recommendations")
    page.wait_for_url(live_server.url + "/recommendations/")
    listed = page.inner_text("table.recommendations")
    assert "Do other" in listed and "Do batch" not in listed
    assert Recommendation.objects.get(pk=target.pk).status == "dismissed"
    assert errors == []
    assert all(url.startswith(live_server.url) for url in requested), requested
