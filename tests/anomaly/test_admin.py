from datetime import UTC, datetime

import pytest
from django.test import Client

from anomaly.models import Anomaly, DetectorTuning
from collectors.models import Gpu, Node

pytestmark = pytest.mark.django_db
TS = datetime(2026, 11, 20, 12, tzinfo=UTC)


@pytest.fixture
def anomaly() -> Anomaly:
    gpu = Gpu.objects.create(node=Node.objects.create(name="n"), uuid="g", index=0)
    return Anomaly.objects.create(
        gpu=gpu,
        metric="gpu.util",
        detector="seasonal",
        kind="spike",
        start=TS,
        end=TS,
        score=2.0,
        severity="warning",
        observed=99.0,
        explanation="GPU utilization of GPU n #0: value 99",
    )


def test_people_list_anomalies_and_mark_a_false_positive(client: Client, owner, anomaly) -> None:
    client.force_login(owner)
    page = client.get("/admin/anomaly/anomaly/")
    assert page.status_code == 200 and "value 99" in page.content.decode()
    response = client.post(
        "/admin/anomaly/anomaly/",
        {"action": "mark_false_positive", "_selected_action": [anomaly.pk]},
    )
    assert response.status_code == 302
    anomaly.refresh_from_db()
    assert anomaly.status == "false_positive" and anomaly.status_changed_by == owner
    assert DetectorTuning.objects.get(metric="gpu.util").sensitivity == pytest.approx(0.8)


def test_anomalies_cannot_be_added_or_edited_by_hand(client: Client, owner, anomaly) -> None:
    client.force_login(owner)
    assert client.get("/admin/anomaly/anomaly/add/").status_code == 403
    assert client.post(f"/admin/anomaly/anomaly/{anomaly.pk}/change/", {}).status_code == 403


def test_a_plain_user_cannot_reach_them(client: Client, teammate) -> None:
    client.force_login(teammate)
    assert client.get("/admin/anomaly/anomaly/").status_code == 302


def test_the_list_costs_the_same_queries_for_many_anomalies(
    client: Client, owner, anomaly, django_assert_max_num_queries
) -> None:
    for _ in range(20):
        anomaly.pk = None
        anomaly.save()
    client.force_login(owner)
    with django_assert_max_num_queries(12):
        assert client.get("/admin/anomaly/anomaly/").status_code == 200
