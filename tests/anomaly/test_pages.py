"""The anomaly pages: a filtered list, and one anomaly with its series, band and buttons."""

import pytest
from django.test import Client

from anomaly.choices import AnomalyStatus
from anomaly.models import Anomaly, DetectorTuning
from anomaly.scoring import FAMILIES, score_family
from tests.anomaly.stored import NOW, hourly_spend_up_to_now, scored_spike

pytestmark = pytest.mark.django_db


@pytest.fixture
def spike() -> Anomaly:
    return scored_spike()


@pytest.fixture
def signed_in(owner) -> Client:  # type: ignore[no-untyped-def]
    client = Client()
    client.force_login(owner)
    return client


def test_the_pages_need_a_login(client: Client) -> None:
    for url in ("/anomalies/", "/anomalies/1/"):
        assert client.get(url).status_code == 302


def test_an_empty_list_says_so(signed_in: Client) -> None:
    assert "No anomalies match" in signed_in.get("/anomalies/").content.decode()
    refused = signed_in.get("/anomalies/?status=nonsense").content.decode()
    assert "Select a valid choice" in refused


def test_the_list_and_the_detail_with_its_chart(signed_in: Client, spike: Anomaly) -> None:
    listed = signed_in.get("/anomalies/").content.decode()
    assert spike.explanation in listed
    page = signed_in.get(f"/anomalies/{spike.pk}/").content.decode()
    assert 'id="chart-anomaly"' in page and "/static/plotly/plotly.min.js" in page
    assert "expected range" in page  # the band's trace
    from anomaly.selectors import anomaly_context

    context = anomaly_context(spike)
    assert context is not None
    [(_, low, high)] = [b for b in context.band if b[0] == spike.start]
    assert low is not None and high is not None and not low <= 100.0 <= high
    assert sum(low is not None for _, low, _ in context.band) > 100
    assert "cdn" not in page.lower()


def test_marking_a_false_positive_from_the_page(signed_in: Client, spike: Anomaly, owner) -> None:  # type: ignore[no-untyped-def]
    response = signed_in.post(
        f"/anomalies/{spike.pk}/status", {"status": "false_positive"}, follow=True
    )
    assert "Marked false positive." in response.content.decode()
    spike.refresh_from_db()
    assert spike.status == AnomalyStatus.FALSE_POSITIVE and spike.status_changed_by == owner
    assert DetectorTuning.objects.get(metric="gpu.util").sensitivity == pytest.approx(0.8)
    assert signed_in.post(f"/anomalies/{spike.pk}/status", {"status": "gone"}).status_code == 400


def test_changing_status_needs_the_permission(teammate, spike: Anomaly) -> None:  # type: ignore[no-untyped-def]
    client = Client()
    client.force_login(teammate)
    assert "Acknowledge" not in client.get(f"/anomalies/{spike.pk}/").content.decode()
    assert client.post(f"/anomalies/{spike.pk}/status", {"status": "resolved"}).status_code == 403


def test_a_fleet_spend_anomaly_is_drawn_by_the_hour(signed_in: Client) -> None:
    hourly_spend_up_to_now(jump=True)
    score_family(FAMILIES[1], NOW + FAMILIES[1].settle)
    jump = Anomaly.objects.get(metric="fleet.cost_per_hour")
    page = signed_in.get(f"/anomalies/{jump.pk}/").content.decode()
    assert 'id="chart-anomaly"' in page and "the fleet" in page
