import pytest
from django.test import Client

from collectors.models import Agent
from collectors.models.fleet import hash_token
from tests.builders.ingest import batch

pytestmark = pytest.mark.django_db


def test_creating_an_agent_in_the_admin_shows_its_token_once(client: Client, owner):
    client.force_login(owner)
    response = client.post("/admin/collectors/agent/add/", {"name": "from-admin"})
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    token = response.context["token"]
    assert token in response.content.decode()
    agent = Agent.objects.get(name="from-admin")
    assert agent.token_hash == hash_token(token)
    # Not in a cookie (flash messages live in one), and never shown again.
    assert all(token not in morsel.value for morsel in response.cookies.values())
    page = client.get(f"/admin/collectors/agent/{agent.pk}/change/").content.decode()
    assert token not in page and agent.token_prefix in page


def test_the_revoke_action_locks_the_agent_out(client: Client, owner, agent_token, post_batch):
    client.force_login(owner)
    agent, _ = agent_token
    response = client.post(
        "/admin/collectors/agent/",
        {"action": "revoke", "_selected_action": [agent.pk]},
        follow=True,
    )
    assert response.status_code == 200
    assert Agent.objects.get(pk=agent.pk).revoked_at is not None
    assert post_batch(batch()).status_code == 401


@pytest.mark.parametrize("model", ["node", "gpu", "deployment", "agent", "ingestbatch"])
def test_admin_lists_open_for_staff(client: Client, owner, post_batch, model):
    assert post_batch(batch()).status_code == 200
    client.force_login(owner)
    assert client.get(f"/admin/collectors/{model}/").status_code == 200


@pytest.mark.parametrize("model", ["node", "gpu", "deployment"])
def test_fleet_rows_cannot_be_deleted_with_their_history(client: Client, owner, post_batch, model):
    assert post_batch(batch()).status_code == 200
    client.force_login(owner)
    response = client.get(f"/admin/collectors/{model}/1/delete/")
    assert response.status_code == 403


def test_admin_is_closed_to_non_staff(client: Client, teammate):
    client.force_login(teammate)
    response = client.get("/admin/collectors/agent/")
    assert response.status_code == 302
