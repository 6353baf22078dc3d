from datetime import UTC, datetime

import pytest
from django.contrib.auth.models import User

from alerts.models import Alert, Channel, Delivery, Rule
from tests.alerts.receivers import HttpReceiver, http_receiver

__all__ = ["http_receiver"]
pytestmark = pytest.mark.django_db(transaction=True)


def test_an_operator_sees_what_fires_and_tests_a_channel(
    page, live_server, http_receiver: HttpReceiver, settings
):  # type: ignore[no-untyped-def]
    settings.ALERTS_ALLOW_PRIVATE_ADDRESSES = True
    rule = Rule.objects.create(
        name="GPU pegged", kind="threshold", metric="gpu.util", comparison=">", value=90
    )
    Alert.objects.create(
        rule=rule,
        entity="gpu:1",
        entity_label="GPU node-a #0",
        state="firing",
        severity="critical",
        summary="GPU utilization 97%, above the threshold 90%",
        started_at=datetime(2026, 11, 20, tzinfo=UTC),
    )
    hook = Channel.objects.create(
        name="ops-hook", kind="webhook", url=http_receiver.url + "/hidden-token", secret="k" * 32
    )
    Delivery.objects.create(channel=hook, status="failed", attempts=7, last_error="HTTP 503: busy")
    User.objects.create_superuser("olga", "olga@example.org", "olga-password-1")
    errors: list[str] = []
    page.on(
        "console", lambda message: errors.append(message.text) if message.type == "error" else None
    )

    page.goto(live_server.url + "/accounts/login/")
    page.fill("#id_username", "olga")
    page.fill("#id_password", "olga-password-1")
    page.click("button[type=submit]")
    page.wait_for_url(live_server.url + "/")
    page.click("nav >> text=Alerts")
    page.wait_for_url(live_server.url + "/alerts/")
    assert "GPU utilization 97%, above the threshold 90%" in page.inner_text("main")
    assert "HTTP 503: busy" in page.inner_text("main")
    assert "hidden-token" not in page.content()

    page.click("tr:has-text('ops-hook') >> text=Send test")
    page.wait_for_url(live_server.url + "/alerts/")
    assert "Test message sent to ops-hook." in page.inner_text(".messages")
    assert http_receiver.wait(1)[0].json["event"] == "test"
    assert errors == []
