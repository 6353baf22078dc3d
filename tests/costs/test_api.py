import csv
import io
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client

from collectors.models import Deployment, Node
from costs.attribution import recompute_since
from costs.models import Budget, NodePrice, PriceBookEntry
from costs.pipeline import rollup_pending
from costs.report import COLUMNS
from costs.selectors import cost_by
from tests.costs.fleet import DAY, set_prices, store_day

pytestmark = pytest.mark.django_db
API = "/api/v1/costs"
REPORT = f"{API}/report?start=2026-11-02&end=2026-11-03"
PRICE = {
    "gpu_model": "H100 SXM",
    "kind": "on_demand",
    "usd_per_gpu_hour": "3.00",
    "valid_from": "2026-11-02",
    "source": "negotiated rate, 2026-10",
}


@pytest.fixture
def costed_day() -> None:
    store_day()
    set_prices()
    rollup_pending(now=DAY + timedelta(days=1, hours=1))


def fields(response: Any) -> set[str]:
    return {error["field"] for error in response.json()["errors"]}


@pytest.mark.parametrize(
    "url",
    ["prices", "node-prices", "budgets", "hosted-alternatives", "budgets/status", "report"],
)
def test_the_costs_api_needs_a_login(client: Client, url: str) -> None:
    response = client.get(f"{API}/{url}")
    assert response.status_code in (401, 403)
    assert response.json()["detail"]


@pytest.mark.parametrize("person", ["teammate", "outsider"])
def test_a_plain_user_reads_prices_but_cannot_change_them(
    client: Client, request: pytest.FixtureRequest, person: str
) -> None:
    entry = PriceBookEntry.objects.create(**{**PRICE, "valid_from": DAY.date()})
    client.force_login(request.getfixturevalue(person))
    listed = client.get(f"{API}/prices")
    assert listed.status_code == 200
    assert {"id": entry.pk, **PRICE, "usd_per_gpu_hour": "3.0000"} in listed.json()["results"]
    assert client.post(f"{API}/prices", {**PRICE, "valid_from": "2026-12-01"}).status_code == 403
    changed = client.patch(
        f"{API}/prices/{entry.pk}", {"source": "x"}, content_type="application/json"
    )
    assert changed.status_code == 403
    assert client.delete(f"{API}/prices/{entry.pk}").status_code == 403
    assert PriceBookEntry.objects.get(pk=entry.pk).source == PRICE["source"]


def test_the_owner_creates_a_price(client: Client, owner) -> None:
    client.force_login(owner)
    response = client.post(f"{API}/prices", PRICE, content_type="application/json")
    assert response.status_code == 201
    assert response.json()["usd_per_gpu_hour"] == "3.0000"
    stored = PriceBookEntry.objects.get(pk=response.json()["id"])
    assert (stored.gpu_model, stored.usd_per_gpu_hour) == ("H100 SXM", Decimal("3.00"))


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"usd_per_gpu_hour": "-1"}, "usd_per_gpu_hour"),
        ({"kind": "free"}, "kind"),
        ({"source": None}, "source"),
        ({"valid_from": "next week"}, "valid_from"),
    ],
)
def test_an_invalid_price_is_refused_with_field_errors(
    client: Client, owner, change: dict, field: str
) -> None:
    client.force_login(owner)
    before = PriceBookEntry.objects.count()
    body = {k: v for k, v in {**PRICE, **change}.items() if v is not None}
    response = client.post(f"{API}/prices", body, content_type="application/json")
    assert response.status_code == 400
    assert fields(response) == {field}
    assert PriceBookEntry.objects.count() == before


def test_a_second_price_for_the_same_day_is_refused(client: Client, owner) -> None:
    client.force_login(owner)
    assert client.post(f"{API}/prices", PRICE).status_code == 201
    again = client.post(f"{API}/prices", {**PRICE, "usd_per_gpu_hour": "4"})
    assert again.status_code == 400
    assert PriceBookEntry.objects.filter(gpu_model="H100 SXM", valid_from="2026-11-02").count() == 1


def test_an_on_prem_node_price_needs_a_purchase_price(client: Client, owner) -> None:
    Node.objects.create(name="rack-1")
    client.force_login(owner)
    body = {"node": "rack-1", "kind": "on_prem", "amortize_years": "4", "usd_per_kwh": "0.12"}
    response = client.post(f"{API}/node-prices", body, content_type="application/json")
    assert response.status_code == 400
    assert fields(response) == {"purchase_usd_per_gpu"}
    assert not NodePrice.objects.exists()
    body["purchase_usd_per_gpu"] = "25000"
    created = client.post(f"{API}/node-prices", body, content_type="application/json")
    assert created.status_code == 201
    assert created.json()["node"] == "rack-1"


def test_a_node_price_names_an_existing_node(client: Client, owner) -> None:
    client.force_login(owner)
    body = {"node": "nowhere", "kind": "custom", "usd_per_gpu_hour": "1.5"}
    response = client.post(f"{API}/node-prices", body, content_type="application/json")
    assert response.status_code == 400
    assert fields(response) == {"node"}


def test_a_budget_needs_a_deployment_or_a_label(client: Client, owner) -> None:
    client.force_login(owner)
    response = client.post(f"{API}/budgets", {"name": "search", "monthly_usd": "500"})
    assert response.status_code == 400
    assert fields(response) == {"deployment"}
    body = {"name": "search", "monthly_usd": "500", "label_key": "team", "label_value": "search"}
    created = client.post(f"{API}/budgets", body)
    assert created.status_code == 201
    assert created.json()["scope"] == "label team=search"


def test_creating_a_price_queues_a_recompute_that_applies_it(
    client: Client, owner, costed_day: None, django_capture_on_commit_callbacks
) -> None:
    client.force_login(owner)
    with django_capture_on_commit_callbacks() as callbacks:
        response = client.post(f"{API}/prices", PRICE, content_type="application/json")
    assert response.status_code == 201
    assert len(callbacks) == 1
    # What the queued task does, run here rather than through the broker.
    recompute_since(datetime(2026, 11, 2, tzinfo=UTC))
    rows = {r.key: r for r in cost_by(DAY, DAY + timedelta(days=1))}
    assert rows["chat on node-a"].cost_usd == Decimal("72.00")  # 24 h x $3.00


def test_deleting_a_price_queues_a_recompute(
    client: Client, owner, django_capture_on_commit_callbacks
) -> None:
    entry = PriceBookEntry.objects.create(**{**PRICE, "valid_from": DAY.date()})
    client.force_login(owner)
    with django_capture_on_commit_callbacks() as callbacks:
        assert client.delete(f"{API}/prices/{entry.pk}").status_code == 204
    assert len(callbacks) == 1


def test_the_report_gives_the_hand_checked_figures(
    client: Client, teammate, costed_day: None
) -> None:
    client.force_login(teammate)
    response = client.get(REPORT)
    assert response.status_code == 200
    body = response.json()
    assert body["by"] == "deployment"
    assert body["start"].startswith("2026-11-02")
    rows = {row["group"]: row for row in body["rows"]}
    assert rows["chat on node-a"]["cost_usd"] == "48.00"
    assert rows["chat on node-a"]["requests"] == 14_400
    assert rows["(idle)"]["cost_usd"] == "36.36"
    assert body["rows"][-1]["group"] == "total"
    assert body["rows"][-1]["cost_usd"] == "120.36"
    total = body["rows"][-1]
    # Each row's $ is active + idle-held + truly idle, and its idle $ the last two.
    for row in body["rows"]:
        parts = [Decimal(row[k]) for k in ("active_usd", "idle_held_usd", "truly_idle_usd")]
        assert sum(parts) == Decimal(row["cost_usd"])
        assert parts[1] + parts[2] == Decimal(row["idle_usd"])
    assert total["truly_idle_usd"] == rows["(idle)"]["cost_usd"]


def test_the_report_downloads_as_csv(client: Client, teammate, costed_day: None) -> None:
    client.force_login(teammate)
    response = client.get(f"{REPORT}&by=label:team&format=csv")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert (
        'filename="costs-2026-11-02-2026-11-03-label-team.csv"' in (response["Content-Disposition"])
    )
    reader = csv.DictReader(io.StringIO(response.content.decode()))
    assert tuple(reader.fieldnames or ()) == COLUMNS
    rows = {row["group"]: row for row in reader}
    assert rows["search"]["cost_usd"] == "60.00"
    assert rows["total"]["cost_usd"] == "120.36"


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("end=2026-11-03", "start"),
        ("start=2026-13-01&end=2026-11-03", "start"),
        ("start=2026-11-03&end=2026-11-03", "end"),
        ("start=2026-11-02&end=2026-11-03&by=colour", "by"),
        ("start=2026-11-02&end=2026-11-03&by=label:", "by"),
        ("start=2026-11-02&end=2026-11-03&format=xml", "format"),
        ("start=2025-01-01&end=2026-11-03", "start"),  # over 400 days
    ],
)
def test_bad_report_params_are_refused_with_field_errors(
    client: Client, teammate, query: str, field: str
) -> None:
    client.force_login(teammate)
    response = client.get(f"{API}/report?{query}")
    assert response.status_code == 400
    assert fields(response) == {field}


def test_budget_status_says_when_a_budget_was_exceeded(client: Client, teammate) -> None:
    month = datetime.now(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    store_day(month, hours=3)
    set_prices()
    rollup_pending(now=month + timedelta(hours=4))
    Budget.objects.create(
        name="chat", deployment=Deployment.objects.get(name="chat"), monthly_usd=Decimal("5")
    )
    client.force_login(teammate)
    response = client.get(f"{API}/budgets/status")
    assert response.status_code == 200
    [status] = response.json()
    assert status["name"] == "chat" and status["scope"] == "deployment chat on node-a"
    assert status["spent_usd"] == "6.00"  # 3 h x $2.00
    assert status["state"] == "exceeded"
    assert status["exceeded_on"] == month.date().isoformat()


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("NVIDIA H100 80GB HBM3", "Use the canonical name 'H100 SXM'."),
        ("h100", "Use a canonical name"),
    ],
)
def test_a_price_for_a_name_that_would_never_apply_is_refused(
    client: Client, owner, name: str, message: str
) -> None:
    client.force_login(owner)
    body = {
        "gpu_model": name,
        "kind": "on_demand",
        "usd_per_gpu_hour": "2.00",
        "valid_from": "2026-11-01",
        "source": "contract",
    }
    response = client.post("/api/v1/costs/prices", body, content_type="application/json")
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "gpu_model"
    assert message in response.json()["errors"][0]["message"]


def test_a_model_without_a_canonical_name_is_priced_by_its_reported_name(
    client: Client, owner
) -> None:
    from collectors.models import Gpu

    node = Node.objects.create(name="lab")
    Gpu.objects.create(node=node, uuid="x0", model_name="NVIDIA B300 SXM6")
    client.force_login(owner)
    body = {
        "gpu_model": "NVIDIA B300 SXM6",
        "kind": "on_demand",
        "usd_per_gpu_hour": "9.00",
        "valid_from": "2026-11-01",
        "source": "contract",
    }
    response = client.post("/api/v1/costs/prices", body, content_type="application/json")
    assert response.status_code == 201
    from costs.pricing import PriceList

    rate = PriceList().rate(node.pk, "NVIDIA B300 SXM6", date(2026, 11, 2))
    assert rate.usd_per_hour == Decimal("9.00")
