"""Page selectors: the figures a page shows are the ones its domain's selectors give."""

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client, RequestFactory
from django.test.utils import CaptureQueriesContext

from collectors.models import Deployment
from costs.economics.selectors import (
    Figures,
    deployment_economics,
    deployment_economics_series,
)
from costs.selectors import cost_by
from costs.spend import cost_window
from dashboard.charts.economics import economics_charts
from dashboard.charts.layout import step_label
from dashboard.selectors.anomalies import anomalies_page
from dashboard.selectors.costs import chargeback_hours, costs_page
from dashboard.selectors.deployments import deployment_page
from dashboard.selectors.scope import PageRange
from dashboard.views.common import page_range
from inferscope.lib.timerange import HOUR

pytestmark = pytest.mark.django_db


def ranged(**query: str) -> PageRange:
    return page_range(RequestFactory().get("/", query))


def custom(start: datetime, end: datetime, **query: str) -> PageRange:
    fmt = "%Y-%m-%dT%H:%M"
    return ranged(range="custom", start=start.strftime(fmt), end=end.strftime(fmt), **query)


def test_the_costs_page_totals_are_cost_by_over_the_same_hours(fleet: datetime) -> None:
    pr = custom(fleet, fleet + timedelta(hours=5, minutes=30))
    page = costs_page(pr, "label:team")
    start, end = chargeback_hours(pr)
    assert (start, end) == (fleet, fleet + timedelta(hours=6))
    *groups, total = cost_by(start, end, "label:team")
    assert page.totals.usd == total.cost_usd == Decimal("30.09")  # a quarter of $120.36
    table = {row["group"]: Decimal(str(row["cost_usd"])) for row in page.rows}
    assert table == {row.key: row.cost_usd for row in [*groups, total]}
    assert page.split.usd == total.cost_usd
    assert page.chart_by == "label"


def test_a_label_narrows_the_costs_page_but_not_its_chargeback(fleet: datetime) -> None:
    pr = custom(fleet, fleet + timedelta(hours=6), label="team=ml")
    page = costs_page(pr, "deployment")
    rerank = Deployment.objects.get(name="rerank").pk
    # rerank's share of a1 plus a1's unclaimed time: the GPU it runs on.
    assert page.totals.by_deployment.keys() == {rerank}
    assert [row.name for row in page.units] == ["rerank"]
    whole = cost_by(fleet, fleet + timedelta(hours=6), "deployment")
    assert Decimal(page.rows[-1]["cost_usd"]) == whole[-1].cost_usd


def test_the_deployment_page_shows_its_dollars_and_economics_from_one_read(
    fleet: datetime,
) -> None:
    chat = Deployment.objects.select_related("node", "settings").get(name="chat")
    pr = ranged(range="24h")
    page = deployment_page(chat, pr.tr)
    since = cost_window(pr.tr).start
    assert page.spend_since == since
    row = next(r for r in cost_by(since, pr.tr.end) if r.key == "chat on node-a")
    assert page.usd == row.cost_usd == Decimal(48)
    assert page.usd_per_1m == pytest.approx(48 / 2.16, rel=1e-3)
    # The totals added up from the hours equal the period's figures read at once.
    once = deployment_economics(since, pr.tr.end, [chat.pk])[chat.pk]
    assert page.economics == once
    steps = deployment_economics_series(since, pr.tr.end, pr.tr.step, [chat.pk])[chat.pk]
    assert page.economics_charts == _charts_of(steps, pr)
    # Latency comes decoded from telemetry, by name.
    assert page.totals is not None
    assert page.totals.latencies["ttft"].p50 == pytest.approx(0.1 + 0.15 * (5 - 4) / 4)
    assert page.totals.latencies["queue"].p50 is None
    assert {"Time to first token", "Cost", "$ per 1M tokens"} <= page.charts.keys()


def _charts_of(steps: dict[datetime, Figures], pr: PageRange) -> dict[str, Any]:
    return economics_charts(steps, step_label(max(pr.tr.step, HOUR)), (pr.tr.start, pr.tr.end))


def test_an_invalid_anomaly_filter_lists_nothing(fleet: datetime) -> None:
    pr = ranged(range="7d")
    assert anomalies_page(pr, None).anomalies == []
    assert len(anomalies_page(pr, {"status": "open"}).anomalies) == 1


# Session and user (2); the deployment with its node and settings (1); its traffic per
# step (2: rollups, histograms) and over the range (2 per tile: hours, days, hours);
# its dollars once (costs.pages: spend steps, token volumes, then the hourly spend,
# rollups and SLO settings of its economics: 5); the capacity estimate (1); the range
# bar (labels, simulated nodes: 2); its GPUs (1). It read 27 when each helper read
# the hours again for itself.
DEPLOYMENT_PAGE_QUERIES = 20


def test_the_deployment_page_reads_each_window_once(
    client: Client, owner: User, fleet: datetime
) -> None:
    client.force_login(owner)
    chat = Deployment.objects.get(name="chat").pk
    with CaptureQueriesContext(connection) as queries:
        assert client.get(f"/deployments/{chat}/?range=7d").status_code == 200
    sql = [q["sql"] for q in queries.captured_queries]
    assert len(sql) == DEPLOYMENT_PAGE_QUERIES, "\n".join(sql)
    # Each hour of spend is read once.
    assert sum("costs_hourlyspend" in s for s in sql) == 2  # cost steps, hourly economics
