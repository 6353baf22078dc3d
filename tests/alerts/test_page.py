"""The alerts page: what fires, what failed to arrive, channels with a test button."""

from datetime import UTC, datetime

import pytest
from django.test import Client

from alerts.choices import AlertState, DeliveryStatus
from alerts.models import Alert, Channel, Delivery, Rule
from tests.alerts.receivers import HttpReceiver

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def loopback_allowed(settings) -> None:  # type: ignore[no-untyped-def]
    settings.ALERTS_ALLOW_PRIVATE_ADDRESSES = True


def test_it_needs_a_login(client: Client) -> None:
    response = client.get("/alerts/")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


@pytest.mark.slow
def test_it_shows_firing_alerts_failures_and_masked_channels(
    owner, http_receiver: HttpReceiver
) -> None:  # type: ignore[no-untyped-def]
    rule = Rule.objects.create(
        name="GPU pegged", kind="threshold", metric="gpu.util", comparison=">", value=90
    )
    Alert.objects.create(
        rule=rule,
        entity="gpu:1",
        entity_label="GPU node-a #0",
        state=AlertState.FIRING,
        summary="GPU utilization 97%, above the threshold 90%",
        started_at=datetime(2026, 11, 20, tzinfo=UTC),
        severity="critical",
    )
    slack = Channel.objects.create(
        name="team-slack", kind="slack", url=http_receiver.url + "/T/B/topsecret"
    )
    Delivery.objects.create(
        channel=slack, status=DeliveryStatus.FAILED, attempts=7, last_error="HTTP 500: oops"
    )
    client = Client()
    client.force_login(owner)
    html = client.get("/alerts/").content.decode()
    assert "GPU utilization 97%, above the threshold 90%" in html
    assert "HTTP 500: oops" in html and "team-slack" in html
    assert "topsecret" not in html
    response = client.post(f"/alerts/channels/{slack.pk}/test", follow=True)
    assert "Test message sent to team-slack." in response.content.decode()
    assert len(http_receiver.requests) == 1


def test_sending_a_test_needs_the_permission(teammate) -> None:  # type: ignore[no-untyped-def]
    channel = Channel.objects.create(name="mail", kind="email", email_to="a@example.org")
    client = Client()
    client.force_login(teammate)
    assert "Send test" not in client.get("/alerts/").content.decode()
    assert client.post(f"/alerts/channels/{channel.pk}/test").status_code == 403
    assert client.get(f"/alerts/channels/{channel.pk}/test").status_code == 405
