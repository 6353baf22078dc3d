"""Settings: agents created with a token shown once, revoked; users listed to those allowed."""

import pytest
from django.contrib.auth.models import Permission
from django.test import Client

from collectors.models import Agent
from collectors.models.fleet import hash_token

pytestmark = pytest.mark.django_db


def test_an_owner_creates_an_agent_and_sees_its_token_once(client: Client, owner) -> None:
    client.force_login(owner)
    response = client.post("/settings/agents/new", {"name": "gpu-node-7"})
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    token = response.context["token"]
    agent = Agent.objects.get(name="gpu-node-7")
    assert agent.token_hash == hash_token(token) and token not in agent.token_hash
    assert token in response.content.decode()
    # The list shows the agent afterwards, never its token.
    page = client.get("/settings/").content.decode()
    assert "gpu-node-7" in page and token not in page and agent.token_prefix in page


def test_the_new_token_is_accepted_by_ingest(client: Client, owner) -> None:
    from tests.builders.ingest import batch

    client.force_login(owner)
    token = client.post("/settings/agents/new", {"name": "node-1-agent"}).context["token"]
    response = Client().post(
        "/api/v1/ingest",
        data=batch(),
        content_type="application/json",
        headers={"authorization": f"Bearer {token}"},
    )
    assert response.status_code == 200


def test_a_duplicate_or_blank_name_is_refused_with_its_field(client: Client, owner) -> None:
    Agent.objects.create(name="taken", token_hash="x" * 64)
    client.force_login(owner)
    for name, message in (("taken", "exists already"), ("", "This field is required")):
        response = client.post("/settings/agents/new", {"name": name})
        assert response.status_code == 400
        page = response.content.decode()
        assert '<p class="error">name: ' in page and message in page
    assert Agent.objects.count() == 1


def test_revoking_stops_the_token_and_says_so(client: Client, owner, agent_token) -> None:
    from tests.builders.ingest import batch

    agent, token = agent_token
    client.force_login(owner)
    response = client.post(f"/settings/agents/{agent.pk}/revoke", follow=True)
    assert "Revoked node-1-agent" in response.content.decode()
    agent.refresh_from_db()
    assert agent.revoked_at is not None
    refused = Client().post(
        "/api/v1/ingest",
        data=batch(),
        content_type="application/json",
        headers={"authorization": f"Bearer {token}"},
    )
    assert refused.status_code == 401
    again = client.post(f"/settings/agents/{agent.pk}/revoke", follow=True)
    assert "revoked already" in again.content.decode()


def test_a_teammate_without_permission_sees_agents_but_cannot_change_them(
    client: Client, teammate, agent_token
) -> None:
    agent, _ = agent_token
    client.force_login(teammate)
    page = client.get("/settings/").content.decode()
    assert "node-1-agent" in page
    assert "Create agent" not in page and "Revoke" not in page
    assert "<h2>Users</h2>" not in page  # no auth.view_user
    assert client.post("/settings/agents/new", {"name": "sneaky"}).status_code == 403
    assert client.post(f"/settings/agents/{agent.pk}/revoke").status_code == 403
    assert not Agent.objects.filter(name="sneaky").exists()
    agent.refresh_from_db()
    assert agent.revoked_at is None


def test_users_are_listed_to_those_who_may_view_them(client: Client, teammate, owner) -> None:
    teammate.user_permissions.add(Permission.objects.get(codename="view_user"))
    client.force_login(teammate)
    page = client.get("/settings/").content.decode()
    assert "<h2>Users</h2>" in page and "alice" in page and "owner" in page
    assert "Add a user" not in page


def test_settings_pages_need_a_login_and_post(client: Client, owner) -> None:
    assert client.post("/settings/agents/new", {"name": "x"}).status_code == 302
    client.force_login(owner)
    assert client.get("/settings/agents/new").status_code == 405
