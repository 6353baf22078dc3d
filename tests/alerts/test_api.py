"""The alerts API: secrets write-only, field errors, permissions, send test."""

import pytest
from django.test import Client

from alerts.models import Channel
from tests.alerts.receivers import HttpReceiver

pytestmark = pytest.mark.django_db
SECRET = "a-signing-key-of-32-characters!!"


@pytest.fixture(autouse=True)
def loopback_allowed(settings) -> None:  # type: ignore[no-untyped-def]
    settings.ALERTS_ALLOW_PRIVATE_ADDRESSES = True


@pytest.fixture
def api(owner) -> Client:  # type: ignore[no-untyped-def]
    client = Client()
    client.force_login(owner)
    return client


@pytest.mark.slow
def test_a_channel_url_and_key_go_in_and_never_come_back(
    api: Client, http_receiver: HttpReceiver
) -> None:
    url = http_receiver.url + "/T0/B0/verysecretpart"
    created = api.post(
        "/api/v1/alerts/channels",
        {"name": "hook", "kind": "webhook", "url": url, "secret": SECRET},
        content_type="application/json",
    )
    assert created.status_code == 201, created.content
    body = created.json()
    assert "url" not in body and "secret" not in body
    assert body["masked_url"].endswith("…part") and "verysecret" not in body["masked_url"]
    listed = api.get("/api/v1/alerts/channels").content.decode()
    assert "verysecret" not in listed and SECRET not in listed
    renamed = api.patch(
        f"/api/v1/alerts/channels/{body['id']}", {"name": "hook-2"}, content_type="application/json"
    )
    assert renamed.status_code == 200
    channel = Channel.objects.get()
    assert channel.url == url and channel.secret == SECRET  # kept


@pytest.mark.slow
def test_send_test_from_the_api(api: Client, http_receiver: HttpReceiver) -> None:
    channel = Channel.objects.create(
        name="hook", kind="webhook", url=http_receiver.url, secret=SECRET
    )
    response = api.post(f"/api/v1/alerts/channels/{channel.pk}/test")
    assert response.status_code == 200
    assert response.json()["status"] == "sent" and response.json()["attempt_log"][0]["ok"]
    assert len(http_receiver.requests) == 1
    refused = Channel.objects.create(name="down", kind="slack", url="http://127.0.0.1:9/x")
    failed = api.post(f"/api/v1/alerts/channels/{refused.pk}/test")
    assert failed.status_code == 502 and failed.json()["status"] == "failed"
    assert "ConnectionRefusedError" in failed.json()["last_error"]
    [failed_row] = api.get("/api/v1/alerts/deliveries?status=failed").json()["results"]
    assert failed_row["channel_name"] == "down"


def test_bad_rules_get_field_errors(api: Client) -> None:
    response = api.post(
        "/api/v1/alerts/rules",
        {"name": "x", "kind": "threshold", "metric": "gpu.nope", "labels": {"a": 1}},
        content_type="application/json",
    )
    assert response.status_code == 400
    fields = {error["field"] for error in response.json()["errors"]}
    assert fields >= {"metric", "comparison", "value", "labels"}
    ok = api.post(
        "/api/v1/alerts/rules",
        {
            "name": "hot",
            "kind": "threshold",
            "metric": "gpu.temperature",
            "comparison": ">",
            "value": 85,
            "for_seconds": 120,
        },
        content_type="application/json",
    )
    assert ok.status_code == 201, ok.content
    too_long = api.post(
        "/api/v1/alerts/rules",
        {
            "name": "y",
            "kind": "silence",
            "value": 5,
            "for_seconds": 10**14,
            "repeat_minutes": 10**12,
        },
        content_type="application/json",
    )
    assert too_long.status_code == 400
    assert {e["field"] for e in too_long.json()["errors"]} == {"for_seconds", "repeat_minutes"}


def test_reading_needs_a_login_and_writing_a_permission(teammate) -> None:  # type: ignore[no-untyped-def]
    anonymous = Client()
    assert anonymous.get("/api/v1/alerts/alerts").status_code == 401
    reader = Client()
    reader.force_login(teammate)
    assert reader.get("/api/v1/alerts/alerts").status_code == 200
    assert reader.get("/api/v1/alerts/channels").status_code == 200
    denied = reader.post(
        "/api/v1/alerts/channels", {"name": "x", "kind": "email", "email_to": "a@b.c"}
    )
    assert denied.status_code == 403
    channel = Channel.objects.create(name="mail", kind="email", email_to="a@example.org")
    assert reader.post(f"/api/v1/alerts/channels/{channel.pk}/test").status_code == 403
