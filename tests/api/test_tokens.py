"""Personal API tokens: made once, stored hashed, scoped, revocable, rate-limited."""

import pytest
from django.core.cache import cache
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client

from api.models import ApiToken
from api.services import api_token_create, api_token_revoke
from api.throttling import TokenRateThrottle
from collectors.models.fleet import hash_token
from recommendations.choices import Confidence
from recommendations.models import Recommendation

pytestmark = pytest.mark.django_db

API = "/api/v1/recommendations/"


def bearer(token: str) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}


@pytest.fixture
def rec() -> Recommendation:
    from django.utils import timezone

    now = timezone.now()
    return Recommendation.objects.create(
        rule="idle_gpus", fingerprint="idle_gpus:x", title="Release x", action="Release x.",
        monthly_saving_usd=10, arithmetic="x", confidence=Confidence.HIGH,
        first_seen_at=now, last_seen_at=now,
    )  # fmt: skip


def test_a_token_is_shown_once_and_only_its_hash_is_kept(owner):
    row, token = api_token_create(owner, "grafana", "read")
    assert token.startswith("isk_") and len(token) > 40
    assert row.token_hash == hash_token(token) and token not in row.token_hash
    assert row.prefix == token[:12]
    assert token not in str(ApiToken.objects.values_list()[::1])


def test_a_read_token_reads_and_cannot_write(owner, rec):
    _, token = api_token_create(owner, "grafana", "read")
    client = Client(enforce_csrf_checks=True)
    assert client.get(API, **bearer(token)).json()["results"][0]["id"] == rec.pk
    denied = client.post(f"{API}{rec.pk}/status", {"action": "dismiss"}, "application/json",
                         **bearer(token))  # fmt: skip
    assert denied.status_code == 403
    assert denied.json()["detail"] == "This token's scope is read: it cannot change data."
    rec.refresh_from_db()
    assert rec.status == "open"
    assert ApiToken.objects.get().last_used_at is not None


def test_a_write_token_writes_without_csrf_within_its_users_permissions(owner, teammate, rec):
    client = Client(enforce_csrf_checks=True)
    _, token = api_token_create(owner, "ops", "write")
    done = client.post(f"{API}{rec.pk}/status", {"action": "dismiss"}, "application/json",
                       **bearer(token))  # fmt: skip
    assert done.status_code == 200 and done.json()["status"] == "dismissed"
    # A token never gives more than its user has: bob may not change recommendations.
    _, bobs = api_token_create(teammate, "bob's", "write")
    refused = client.post(f"{API}{rec.pk}/status", {"action": "reopen"}, "application/json",
                          **bearer(bobs))  # fmt: skip
    assert refused.status_code == 403


def test_unknown_revoked_and_inactive_tokens_get_401(owner, teammate):
    client = Client()
    unknown = client.get(API, **bearer("isk_not-a-token"))
    assert unknown.status_code == 401
    assert unknown.json()["detail"] == "Unknown or revoked API token."
    assert unknown["WWW-Authenticate"] == 'Bearer realm="inferscope"'
    row, token = api_token_create(owner, "old", "read")
    assert api_token_revoke(row) and not api_token_revoke(row)
    assert client.get(API, **bearer(token)).status_code == 401
    _, bobs = api_token_create(teammate, "bob's", "read")
    teammate.is_active = False
    teammate.save()
    assert client.get(API, **bearer(bobs)).status_code == 401
    assert client.get(API).status_code in (401, 403)


def test_an_agents_ingest_token_reads_nothing(agent_token):
    _, token = agent_token
    response = Client().get(API, **bearer(token))
    assert response.status_code in (401, 403)


def test_a_token_past_its_rate_gets_429(owner, monkeypatch):
    monkeypatch.setattr(TokenRateThrottle, "THROTTLE_RATES", {"token": "3/min"})
    cache.clear()
    _, token = api_token_create(owner, "busy", "read")
    _, other = api_token_create(owner, "other", "read")
    client = Client()
    assert [client.get(API, **bearer(token)).status_code for _ in range(3)] == [200] * 3
    limited = client.get(API, **bearer(token))
    assert limited.status_code == 429 and "Retry-After" in limited
    assert client.get(API, **bearer(other)).status_code == 200  # each token has its own
    cache.clear()


def test_bad_names_and_scopes_are_refused(owner):
    from api.services import TokenError

    with pytest.raises(TokenError, match="name"):
        api_token_create(owner, "  ", "read")
    with pytest.raises(TokenError, match="Scope must be one of: read, write"):
        api_token_create(owner, "x", "ingest")


def test_the_command_prints_the_token_alone_and_refuses_an_unknown_user(owner, capsys):
    call_command("create_api_token", "alice", "--scope", "write", "--name", "ci")
    out = capsys.readouterr()
    token = out.out.strip()
    row = ApiToken.objects.get()
    assert row.token_hash == hash_token(token) and row.scope == "write" and row.name == "ci"
    assert "not shown again" in out.err
    with pytest.raises(CommandError, match="No user named 'nobody'"):
        call_command("create_api_token", "nobody")
