"""Settings, API tokens: anyone logged in makes their own, sees each once, revokes it."""

import logging

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from api.models import ApiToken
from api.services import api_token_create
from collectors.models.fleet import hash_token

pytestmark = pytest.mark.django_db

NEW = "/settings/tokens/new"
API = "/api/v1/recommendations/"


def revoke_url(row: ApiToken) -> str:
    return f"/settings/tokens/{row.pk}/revoke"


def bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


def test_the_token_pages_need_a_login(client: Client, teammate) -> None:
    row, _ = api_token_create(teammate, "grafana", "read")
    assert client.get("/settings/").status_code == 302
    assert client.post(NEW, {"name": "x", "scope": "read"}).status_code == 302
    assert client.post(revoke_url(row)).status_code == 302
    assert ApiToken.objects.count() == 1
    row.refresh_from_db()
    assert row.revoked_at is None


def test_a_teammate_creates_a_token_and_sees_it_once(
    client: Client, teammate, caplog: pytest.LogCaptureFixture
) -> None:
    client.force_login(teammate)
    with caplog.at_level(logging.DEBUG):
        response = client.post(NEW, {"name": "grafana", "scope": "read"})
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    token = response.context["api_token"]
    assert token.startswith("isk_") and token in response.content.decode()
    assert token not in caplog.text
    # Only the hash is stored, nothing of the token past its listed prefix.
    row = ApiToken.objects.get()
    assert (row.user, row.name, row.scope) == (teammate, "grafana", "read")
    assert row.token_hash == hash_token(token) and row.prefix == token[:12]
    assert "api_token" not in dict(client.session)
    page = client.get("/settings/")
    assert page.context.get("api_token") is None
    html = page.content.decode()
    assert token not in html and f"{row.prefix}…" in html and "grafana" in html


def test_the_new_token_reads_the_api_and_a_read_one_cannot_write(client: Client, teammate) -> None:
    client.force_login(teammate)
    read = client.post(NEW, {"name": "dash", "scope": "read"}).context["api_token"]
    write = client.post(NEW, {"name": "ci", "scope": "write"}).context["api_token"]
    api = Client()
    assert api.get(API, headers=bearer(read)).status_code == 200
    assert api.post(API, {}, headers=bearer(read)).status_code == 403
    # A write token passes the scope check; the list itself takes no POST.
    assert api.post(API, {}, headers=bearer(write)).status_code == 405
    assert ApiToken.objects.get(name="dash").last_used_at is not None


def test_bad_input_is_refused_with_its_field_and_nothing_is_made(client: Client, teammate) -> None:
    client.force_login(teammate)
    cases = (
        ({"name": "", "scope": "read"}, "name: This field is required"),
        ({"name": "   ", "scope": "read"}, "name: This field is required"),
        ({"name": "n" * 101, "scope": "read"}, "name: Ensure this value has at most 100"),
        ({"name": "ok", "scope": "ingest"}, "scope: Select a valid choice"),
        ({"name": "ok", "scope": "admin"}, "scope: Select a valid choice"),
        ({"name": "ok"}, "scope: This field is required"),
    )
    for data, message in cases:
        response = client.post(NEW, data)
        assert response.status_code == 400, data
        assert response.context.get("api_token") is None
        assert f'<p class="error">{message}' in response.content.decode(), data
    assert not ApiToken.objects.exists()


def test_revoking_ones_own_token_stops_it(client: Client, teammate) -> None:
    row, token = api_token_create(teammate, "grafana", "read")
    client.force_login(teammate)
    response = client.post(revoke_url(row), follow=True)
    assert "Revoked API token grafana" in response.content.decode()
    row.refresh_from_db()
    assert row.revoked_at is not None
    assert Client().get(API, headers=bearer(token)).status_code == 401
    again = client.post(revoke_url(row), follow=True).content.decode()
    assert "revoked already" in again and "revoked " in again


def test_another_users_token_is_not_found_and_stays(client: Client, teammate, outsider) -> None:
    row, token = api_token_create(outsider, "theirs", "write")
    client.force_login(teammate)
    page = client.get("/settings/").content.decode()
    assert "theirs" not in page and row.prefix not in page
    assert client.post(revoke_url(row)).status_code == 404
    assert client.post("/settings/tokens/999999/revoke").status_code == 404
    row.refresh_from_db()
    assert row.revoked_at is None
    assert Client().get(API, headers=bearer(token)).status_code == 200


def test_a_superuser_sees_and_revokes_everyones_tokens(client: Client, owner, teammate) -> None:
    row, token = api_token_create(teammate, "bobs-script", "write")
    client.force_login(owner)
    page = client.get("/settings/").content.decode()
    assert "Everyone else&#x27;s tokens" in page or "Everyone else's tokens" in page
    assert "bobs-script" in page and "bob" in page and token not in page
    response = client.post(revoke_url(row), follow=True)
    assert "Revoked bob&#x27;s API token bobs-script" in response.content.decode()
    assert Client().get(API, headers=bearer(token)).status_code == 401


def test_the_token_urls_take_only_post(client: Client, teammate) -> None:
    row, _ = api_token_create(teammate, "grafana", "read")
    client.force_login(teammate)
    assert client.get(NEW).status_code == 405
    assert client.get(revoke_url(row)).status_code == 405
    row.refresh_from_db()
    assert row.revoked_at is None


def test_the_page_makes_as_many_queries_for_many_tokens(client: Client, owner, teammate) -> None:
    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert client.get("/settings/").status_code == 200
        return len(queries)

    client.force_login(owner)
    api_token_create(owner, "mine", "read")
    api_token_create(teammate, "theirs", "read")
    few = count()
    for i in range(5):
        api_token_create(owner, f"mine-{i}", "write")
        api_token_create(teammate, f"theirs-{i}", "write")
    assert count() == few
