"""Every dashboard page in a real Chromium: each chart draws, the console stays clean,
nothing is fetched from outside, and a phone-width screen needs no sideways scroll.
Screenshots go to $SCREENSHOT_DIR (default var/screenshots), which .ci/run keeps."""

import os
from datetime import datetime
from pathlib import Path

import pytest
from django.contrib.auth.models import User

from tests.dashboard.pages import LIST_PAGES, entity_urls, store_page_fleet, this_hour

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def fleet() -> datetime:
    return store_page_fleet()


SCREENSHOTS = Path(os.environ.get("SCREENSHOT_DIR", "var/screenshots"))
WIDTHS = {"desktop": (1280, 900), "phone": (390, 844)}
# Pages whose seeded view must draw at least these charts (the rest may show none).
# The deployment (chat): its eight charts, goodput and the knee; costs: the idle split too.
MUST_DRAW = {"/": 2, "gpu": 6, "deployment": 10, "/costs/": 4, "anomaly": 1}
# The economics sections each page must show (embed holds a GPU idle all day).
SECTIONS = {
    "/": ["#idle-held", "#idle-split"],
    "/costs/": ["#unit-economics"],
    "deployment": ["#unit-economics", "#capacity", "#chart-knee", "#chart-dep-goodput"],
}


def _login(page, url: str) -> None:  # type: ignore[no-untyped-def]
    page.goto(url + "/accounts/login/")
    page.fill("#id_username", "olive")
    page.fill("#id_password", "olive-password-1")
    page.click("button[type=submit]")
    page.wait_for_url(url + "/")


def _name(path: str) -> str:
    return path.strip("/").replace("/", "-") or "overview"


@pytest.mark.parametrize("width", list(WIDTHS))
def test_every_page_draws_its_charts_without_errors(
    browser, live_server, fleet: datetime, width: str
):  # type: ignore[no-untyped-def]
    from costs.models import Budget
    from telemetry.capacity import capacity_estimates_update

    capacity_estimates_update(now=this_hour())
    Budget.objects.create(
        name="all of search", label_key="team", label_value="search", monthly_usd=100
    )
    User.objects.create_superuser("olive", "olive@example.org", "olive-password-1")
    context = browser.new_context(
        viewport=dict(zip(("width", "height"), WIDTHS[width], strict=True))
    )
    page = context.new_page()
    page.set_default_timeout(15_000)
    errors: list[str] = []
    outside: list[str] = []
    page.on(
        "console", lambda m: errors.append(f"{page.url}: {m.text}") if m.type == "error" else None
    )
    page.on("pageerror", lambda exc: errors.append(f"{page.url}: {exc}"))
    page.on(
        "request",
        lambda r: outside.append(r.url) if not r.url.startswith(live_server.url) else None,
    )
    _login(page, live_server.url)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    pages = {path: path for path in LIST_PAGES} | entity_urls()
    for key, path in pages.items():
        page.goto(f"{live_server.url}{path}?range=24h")
        charts = page.locator("div[id^='chart-']")
        count = charts.count()
        assert count >= MUST_DRAW.get(key, 0), (path, count)
        for i in range(count):
            charts.nth(i).locator("svg.main-svg").first.wait_for(state="attached")
        for selector in SECTIONS.get(key, []):
            assert page.locator(selector).first.is_visible(), (path, selector)
        overflow = page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 1, (path, width, overflow)
        page.screenshot(path=str(SCREENSHOTS / f"{_name(path)}-{width}.png"), full_page=True)
    context.close()
    assert errors == []
    assert outside == []
