"""A page's number of SQL queries does not grow with the fleet, and a label narrows it."""

from datetime import datetime

import msgspec
import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from collectors.ingest import ingest_batch
from collectors.services import agent_create
from tests.builders.ingest import batch, inventory
from tests.dashboard.pages import LIST_PAGES, entity_urls

pytestmark = pytest.mark.django_db
# The most queries each page may make (session and user included).
# Measured at 7 days: range totals read three tiles (hours, days, hours) per table.
MOST = {
    # The overview's top recommendations: the rows, and the open count and total (1).
    # Its idle-held tile: the deployments, then their names and nodes (2); the split (1).
    "/": 21,
    "/nodes/": 10,
    # The capacity estimates of every deployment listed, for headroom (1).
    "/deployments/": 16,
    # The active/idle-held/truly idle steps (1); unit economics: spend, rollups and
    # the deployments' SLO settings (3), read once for the unit table and the
    # chargeback's measured prefill/decode split (costs.report: the deployments' names).
    "/costs/": 22,
    "/anomalies/": 5,
    "/recommendations/": 6,
    "/alerts/": 8,
    # Agents with their nodes (2), users, and the API tokens: one's own and, for a
    # superuser, everyone else's with their users (1 each).
    "/settings/": 8,
    "gpu": 10,
    # Its dollars' hours once (costs.pages): spend steps, token volumes, and the unit
    # economics' spend, rollups and SLO settings; the capacity estimate (1).
    "deployment": 20,
    "anomaly": 7,
}


def counts(client: Client) -> dict[str, int]:
    out = {}
    for key, path in {p: p for p in LIST_PAGES}.items() | entity_urls().items():
        with CaptureQueriesContext(connection) as queries:
            assert client.get(f"{path}?range=7d").status_code == 200, path
        out[key] = len(queries)
    return out


def test_no_page_makes_more_queries_for_a_bigger_fleet(
    client: Client, owner, fleet: datetime
) -> None:
    client.force_login(owner)
    small = counts(client)
    body = batch(gpu_samples=24)
    body["inventory"] = inventory(gpus=12, node="node-big")
    body["inventory"]["deployments"][0]["labels"] = {"team": "ml"}
    ingest_batch(agent_create("big")[0], msgspec.json.encode(body))
    big = counts(client)
    assert big == small
    for page, most in MOST.items():
        assert small[page] <= most, (page, small[page], small)


def test_a_label_filter_keeps_only_its_deployments_and_their_gpus(
    client: Client, teammate, fleet: datetime
) -> None:
    client.force_login(teammate)
    page = client.get("/deployments/?range=24h&label=team%3Dml").content.decode()
    assert "rerank" in page and ">chat<" not in page and ">embed<" not in page
    nodes = client.get("/nodes/?range=24h&label=team%3Dml").content.decode()
    assert "node-a" in nodes and "node-b" not in nodes
    overview = client.get("/?range=24h&label=team%3Dml")
    assert overview.context["gpu_count"] == 1  # a1, which rerank runs on
    # $24 of rerank plus a1's unclaimed $12 over the day.
    assert str(overview.context["range_spend"].usd) == "36.000000"
    nothing = client.get("/?range=24h&label=team%3Dnobody").content.decode()
    assert "No GPU runs a deployment labelled team=nobody" in nothing
