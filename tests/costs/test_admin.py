from datetime import date, timedelta

import pytest
from django.test import Client

from collectors.models import Node
from costs.models import CostRecord, NodePrice, PriceBookEntry
from costs.pipeline import rollup_pending
from telemetry.models import GpuRollup, InferenceRollup
from tests.costs.fleet import DAY, set_prices, store_day

pytestmark = pytest.mark.django_db
ADMIN = "/admin"
# The rollups are the telemetry app's since issue 24; cost records stay in costs.
READ_ONLY = ["costs/costrecord", "telemetry/gpurollup", "telemetry/inferencerollup"]
PRICE = {
    "gpu_model": "L4",
    "kind": "spot",
    "usd_per_gpu_hour": "0.40",
    "valid_from": "2026-11-10",
    "source": "quote",
}


@pytest.fixture
def costed_hours() -> None:
    store_day(hours=2)
    set_prices()
    rollup_pending(now=DAY + timedelta(hours=3))


@pytest.mark.parametrize(
    "model",
    [
        "costs/pricebookentry",
        "costs/nodeprice",
        "costs/budget",
        "costs/hostedalternative",
        *READ_ONLY,
    ],
)
def test_admin_lists_open_for_staff(client: Client, owner, costed_hours: None, model: str) -> None:
    client.force_login(owner)
    assert client.get(f"{ADMIN}/{model}/").status_code == 200


def test_raw_and_computed_rows_are_listed_with_their_filters(
    client: Client, owner, costed_hours: None
) -> None:
    client.force_login(owner)
    since = "2026-11-02+01:00:00%2B00:00"
    idle = client.get(f"{ADMIN}/costs/costrecord/?deployment__isnull=True&hour__gte={since}")
    assert idle.status_code == 200
    expected = CostRecord.objects.filter(deployment=None, hour__gte=DAY + timedelta(hours=1))
    assert idle.context["cl"].result_count == expected.count() > 0
    gpu = GpuRollup.objects.first()
    assert gpu is not None
    by_gpu = client.get(
        f"{ADMIN}/telemetry/gpurollup/?gpu__id__exact={gpu.gpu_id}&resolution__exact=3600"
    )
    assert by_gpu.status_code == 200
    hours = GpuRollup.objects.filter(gpu_id=gpu.gpu_id, resolution=3600).count()
    assert by_gpu.context["cl"].result_count == hours > 1


@pytest.mark.parametrize("model", READ_ONLY)
def test_raw_and_computed_rows_cannot_be_added_changed_or_deleted(
    client: Client, owner, costed_hours: None, model: str
) -> None:
    models = {
        "costs/costrecord": CostRecord,
        "telemetry/gpurollup": GpuRollup,
        "telemetry/inferencerollup": InferenceRollup,
    }
    row = models[model].objects.first()
    assert row is not None
    client.force_login(owner)
    assert client.get(f"{ADMIN}/{model}/add/").status_code == 403
    assert client.post(f"{ADMIN}/{model}/{row.pk}/change/", {}).status_code == 403
    assert client.get(f"{ADMIN}/{model}/{row.pk}/delete/").status_code == 403
    view = client.get(f"{ADMIN}/{model}/{row.pk}/change/")
    assert view.status_code == 200 and 'name="_save"' not in view.content.decode()


def test_adding_a_price_in_the_admin_queues_a_recompute(
    client: Client, owner, django_capture_on_commit_callbacks
) -> None:
    client.force_login(owner)
    with django_capture_on_commit_callbacks() as callbacks:
        response = client.post(f"{ADMIN}/costs/pricebookentry/add/", PRICE)
    assert response.status_code == 302
    assert PriceBookEntry.objects.filter(gpu_model="L4", kind="spot", source="quote").exists()
    assert len(callbacks) == 1


def test_changing_and_deleting_a_price_in_the_admin_queue_a_recompute(
    client: Client, owner, django_capture_on_commit_callbacks
) -> None:
    entry = PriceBookEntry.objects.create(**{**PRICE, "valid_from": date(2026, 11, 10)})
    client.force_login(owner)
    url = f"{ADMIN}/costs/pricebookentry/{entry.pk}"
    with django_capture_on_commit_callbacks() as callbacks:
        changed = client.post(f"{url}/change/", {**PRICE, "valid_from": "2026-11-20"})
    assert changed.status_code == 302 and len(callbacks) == 1
    with django_capture_on_commit_callbacks() as callbacks:
        deleted = client.post(f"{url}/delete/", {"post": "yes"})
    assert deleted.status_code == 302 and len(callbacks) == 1
    assert not PriceBookEntry.objects.filter(pk=entry.pk).exists()


def test_deleting_node_prices_in_bulk_queues_one_recompute(
    client: Client, owner, django_capture_on_commit_callbacks
) -> None:
    node = Node.objects.create(name="rack-1")
    prices = [
        NodePrice.objects.create(node=node, kind="custom", usd_per_gpu_hour=1, valid_from=day)
        for day in (date(2026, 10, 1), date(2026, 11, 1))
    ]
    client.force_login(owner)
    with django_capture_on_commit_callbacks() as callbacks:
        response = client.post(
            f"{ADMIN}/costs/nodeprice/",
            {
                "action": "delete_selected",
                "_selected_action": [p.pk for p in prices],
                "post": "yes",
            },
        )
    assert response.status_code == 302
    assert not NodePrice.objects.exists()
    assert len(callbacks) == 1


def test_an_on_prem_node_price_in_the_admin_needs_its_purchase_price(
    client: Client, owner, django_capture_on_commit_callbacks
) -> None:
    node = Node.objects.create(name="rack-1")
    client.force_login(owner)
    form = {"node": node.pk, "valid_from": "2026-11-01", "kind": "on_prem", "pue": "1.3"}
    with django_capture_on_commit_callbacks() as callbacks:
        response = client.post(f"{ADMIN}/costs/nodeprice/add/", {**form, "usd_per_kwh": "0.1"})
    assert response.status_code == 200
    assert "On-premises pricing needs this." in response.content.decode()
    assert not NodePrice.objects.exists() and callbacks == []


def test_the_costs_admin_is_closed_to_non_staff(client: Client, teammate) -> None:
    client.force_login(teammate)
    assert client.get(f"{ADMIN}/costs/pricebookentry/").status_code == 302
