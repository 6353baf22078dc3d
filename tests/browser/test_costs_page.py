from datetime import timedelta
from pathlib import Path

import pytest
from django.contrib.auth.models import User

from costs.pipeline import rollup_pending
from tests.costs.fleet import DAY, set_prices, store_day

pytestmark = pytest.mark.django_db(transaction=True)


def row(page, group: str):
    """The report row whose first cell is exactly `group`."""
    return page.locator("table.figures tbody tr").filter(
        has=page.get_by_role("cell", name=group, exact=True)
    )


def test_a_user_reads_costs_by_team_and_downloads_the_csv(page, live_server):
    store_day()
    set_prices()
    rollup_pending(now=DAY + timedelta(days=1, hours=1))
    User.objects.create_user("fay", password="fay-password-1")
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))

    page.goto(live_server.url + "/accounts/login/")
    page.fill("#id_username", "fay")
    page.fill("#id_password", "fay-password-1")
    page.click("button[type=submit]")
    page.wait_for_url(live_server.url + "/")
    page.click("nav >> text=Costs")
    page.wait_for_url(live_server.url + "/costs/")

    page.select_option("select[name=range]", "custom")
    page.fill("input[name=start]", "2026-11-02T00:00")
    page.fill("input[name=end]", "2026-11-03T00:00")
    page.click("form.rangebar button[type=submit]")
    page.wait_for_url("**/costs/?*start=2026-11-02*")
    assert "$48.00" in row(page, "chat on node-a").inner_text()
    assert "$120.36" in page.locator("tr.total").inner_text()
    assert "$36.36" in page.locator("tr.idle").inner_text()

    page.select_option("#id_by", "label:team")
    page.click("form.rangebar button[type=submit]")
    page.wait_for_url("**/costs/?*by=label%3Ateam*")
    assert "$60.00" in row(page, "search").inner_text()
    assert "$24.00" in row(page, "ml").inner_text()

    with page.expect_download() as download_info:
        page.click(".downloads >> text=CSV")
    download = download_info.value
    lines = Path(download.path()).read_text().splitlines()
    assert lines[0].startswith("group,gpu_hours,cost_usd")
    assert any(line.startswith("search,") and "60.00" in line for line in lines)
    assert any(line.startswith("total,") and "120.36" in line for line in lines)

    assert requested
    assert all(url.startswith(live_server.url) for url in requested), requested
