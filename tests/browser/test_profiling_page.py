"""The Profiling pages in a real Chromium: queue a job through the form, then read a
finished job's three charts, at desktop and phone width, with a clean console.
Screenshots go to $SCREENSHOT_DIR (default var/screenshots)."""

import os
from pathlib import Path

import pytest
from django.contrib.auth.models import User

from profiling.models import ProfilingJob
from tests.dashboard.profiling_data import finished_job, profiling_node, two_shape_job

pytestmark = pytest.mark.django_db(transaction=True)
SCREENSHOTS = Path(os.environ.get("SCREENSHOT_DIR", "var/screenshots"))
WIDTHS = {"desktop": (1280, 900), "phone": (390, 844)}
CHARTS = ("chart-profile-pareto", "chart-profile-memory", "chart-profile-cost")


def _watch(page, live_url: str) -> tuple[list[str], list[str]]:  # type: ignore[no-untyped-def]
    errors: list[str] = []
    outside: list[str] = []
    page.on(
        "console", lambda m: errors.append(f"{page.url}: {m.text}") if m.type == "error" else None
    )
    page.on("pageerror", lambda exc: errors.append(f"{page.url}: {exc}"))
    page.on("request", lambda r: outside.append(r.url) if not r.url.startswith(live_url) else None)
    return errors, outside


def _login(page, url: str) -> None:  # type: ignore[no-untyped-def]
    page.goto(url + "/accounts/login/")
    page.fill("#id_username", "pia")
    page.fill("#id_password", "pia-password-1")
    page.click("button[type=submit]")
    page.wait_for_url(url + "/")


def _overflow(page) -> int:  # type: ignore[no-untyped-def]
    return int(
        page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    )


@pytest.mark.parametrize("width", list(WIDTHS))
def test_a_job_is_queued_from_the_form_and_a_finished_one_draws_its_charts(
    browser, live_server, width: str
):  # type: ignore[no-untyped-def]
    User.objects.create_superuser("pia", "pia@example.org", "pia-password-1")
    node = profiling_node("gpu-1", presets=("tiny", "1b"))
    cpu = profiling_node("cpu-1", presets=("tiny",), gpu=False)
    done = finished_job(node, name="<b>1b</b> on gpu-1")
    other = finished_job(node, name="unpriced", priced=False)
    shapes = two_shape_job(node)
    viewport = dict(zip(("width", "height"), WIDTHS[width], strict=True))
    context = browser.new_context(viewport=viewport)
    page = context.new_page()
    page.set_default_timeout(15_000)
    errors, outside = _watch(page, live_server.url)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    _login(page, live_server.url)

    page.click("nav >> text=Profiling")
    page.wait_for_url(live_server.url + "/profiling/")
    assert _overflow(page) <= 1
    page.screenshot(path=str(SCREENSHOTS / f"profiling-{width}.png"), full_page=True)
    # The preset menu follows the node: cpu-1 allows only tiny.
    page.select_option("#id_node", str(cpu.pk))
    assert page.locator("#id_preset option[value='1b']").is_disabled()
    page.select_option("#id_node", str(node.pk))
    assert not page.locator("#id_preset option[value='1b']").is_disabled()
    page.select_option("#id_preset", "1b")
    page.fill("#id_name", "from the browser")
    page.fill("#id_batch_sizes", "1, 2, 4")
    page.check("#fieldset-quants input[value='int8']")
    page.click("#profile-form button[type=submit]")
    page.wait_for_url(f"{live_server.url}/profiling/*/")
    assert "Queued 6 points on gpu-1." in page.inner_text(".messages")
    queued = ProfilingJob.objects.get(name="from the browser")
    assert queued.spec["batch_sizes"] == [1, 2, 4]
    assert queued.spec["quants"] == ["none", "int8"]
    assert queued.spec["preset"] == "1b"

    page.goto(f"{live_server.url}/profiling/{done.pk}/?itl_ms=12")
    for chart in CHARTS:
        page.locator(f"#{chart} svg.main-svg").first.wait_for(state="attached")
        traces = page.evaluate(f"document.getElementById('{chart}').data.length")
        assert traces >= 1, chart
    assert "bf16 int8 flash · batch 8" in page.inner_text("#cheapest")
    assert page.locator("h1").inner_text() == "<b>1b</b> on gpu-1"
    assert _overflow(page) <= 1, width
    page.screenshot(path=str(SCREENSHOTS / f"profiling-job-{width}.png"), full_page=True)

    page.goto(f"{live_server.url}/profiling/compare?jobs={done.pk},{other.pk}&itl_ms=12")
    page.locator("#chart-profile-compare svg.main-svg").first.wait_for(state="attached")
    names = page.evaluate("document.getElementById('chart-profile-compare').data.map(t => t.name)")
    assert f"#{done.pk} &lt;b&gt;1b&lt;/b&gt; on gpu-1 · bf16 flash" in names
    assert _overflow(page) <= 1, width
    page.screenshot(path=str(SCREENSHOTS / f"profiling-compare-{width}.png"), full_page=True)

    # A sweep of two request shapes: the cheapest is judged at the one chosen.
    page.goto(f"{live_server.url}/profiling/{shapes.pk}/")
    assert "int8 flash · batch 8 · prompt 128 · gen 32" in page.inner_text("#cheapest")
    page.select_option("#id_shape", "1024x32")
    page.fill("#id_itl_ms", "11")
    page.click("#target-form button[type=submit]")
    page.wait_for_url("**shape=1024x32**")
    assert "int8 flash · batch 1 · prompt 1024 · gen 32" in page.inner_text("#cheapest")
    assert page.locator("#id_shape").input_value() == "1024x32"
    assert _overflow(page) <= 1, width
    page.screenshot(path=str(SCREENSHOTS / f"profiling-shapes-{width}.png"), full_page=True)
    context.close()
    assert errors == []
    assert outside == []
