import pytest
from django.contrib.auth.models import User

from anomaly.models import Anomaly
from tests.anomaly.stored import scored_spike

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def spike() -> Anomaly:
    return scored_spike()


def test_an_anomaly_chart_draws_offline_and_a_false_positive_is_marked(
    page, live_server, spike: Anomaly
):  # type: ignore[no-untyped-def]
    User.objects.create_superuser("ana", "ana@example.org", "ana-password-1")
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
    page.click("nav >> text=Anomalies")
    page.wait_for_url(live_server.url + "/anomalies/")
    page.click(f"a[href='/anomalies/{spike.pk}/']")
    page.wait_for_selector("#chart-anomaly svg.main-svg")
    page.click("button[value=false_positive]")
    page.wait_for_url(f"{live_server.url}/anomalies/{spike.pk}/")
    assert "Marked false positive." in page.inner_text(".messages")
    assert errors == []
    assert all(url.startswith(live_server.url) for url in requested), requested
