"""/api/v1/nodes, gpus, deployments, agents: tokens, filters, numbered pages."""

from datetime import timedelta
from typing import Any

import pytest
from django.test import Client

from api.services import api_token_create
from collectors.models import Agent, Deployment, Gpu, GpuSample, Node
from collectors.services import agent_create
from tests.api.fleet import FLEET, SERIES, T0, V1, bearer, errors

pytestmark = pytest.mark.django_db


def names(response: Any, key: str = "name") -> list[Any]:
    assert response.status_code == 200, response.content
    return [row[key] for row in response.json()["results"]]


@pytest.mark.parametrize("path", FLEET + SERIES)
def test_every_list_needs_a_person_and_refuses_an_agents_token(path, agent_token):
    anonymous = Client().get(V1 + path)
    assert anonymous.status_code == 401
    assert anonymous.json()["detail"] == "Authentication credentials were not provided."
    assert anonymous["WWW-Authenticate"] == 'Bearer realm="inferscope"'
    assert Client().get(V1 + path, **bearer(agent_token[1])).status_code == 401
    assert Client().get(V1 + path, **bearer("isk_unknown")).status_code == 401


@pytest.mark.parametrize("path", FLEET + SERIES)
def test_a_read_token_and_a_teammates_session_read_every_list(path, reader, teammate):
    assert reader.get(V1 + path).status_code == 200
    session = Client()
    session.force_login(teammate)
    assert session.get(V1 + path).status_code == 200


@pytest.mark.parametrize("path", FLEET + SERIES)
def test_the_lists_are_read_only_whatever_the_scope(path, owner):
    _, read = api_token_create(owner, "read", "read")
    _, write = api_token_create(owner, "write", "write")
    denied = Client().post(V1 + path, {}, **bearer(read))
    assert denied.status_code == 403
    assert Client().post(V1 + path, {}, **bearer(write)).status_code == 405


def test_nodes_show_their_agent_and_counts(reader, fleet):
    agent = fleet["agents"][0]
    Agent.objects.filter(pk=agent.pk).update(last_seen_at=T0)
    body = reader.get(V1 + "nodes").json()
    assert body["count"] == 2 and body["next"] is None
    first = body["results"][0]
    assert first == {
        "id": fleet["nodes"][0].pk,
        "name": "node-1",
        "hostname": "",
        "simulated": False,
        "labels": {"rack": "r1"},
        "agent": agent.pk,
        "agent_name": "agent-1",
        "agent_last_seen_at": "2026-03-02T00:00:00Z",
        "gpu_count": 2,
        "deployment_count": 2,
        "created_at": first["created_at"],
    }
    assert first["created_at"].endswith("Z")


def test_node_filters_take_ids_names_and_labels(reader, fleet):
    node2 = fleet["nodes"][1]
    assert names(reader.get(V1 + "nodes", {"node": node2.pk})) == ["node-2"]
    assert names(reader.get(V1 + "nodes", {"node": ["node-1", "node-2"]})) == ["node-1", "node-2"]
    assert names(reader.get(V1 + "nodes", {"label": "team:infra"})) == ["node-2"]
    assert names(reader.get(V1 + "nodes", {"label": "rack=r1"})) == ["node-1"]
    assert names(reader.get(V1 + "nodes", {"gpu": "g-2"})) == ["node-2"]
    assert names(reader.get(V1 + "nodes", {"deployment": "embed"})) == ["node-1"]
    assert names(reader.get(V1 + "nodes", {"node": "nowhere"})) == []


def test_gpus_show_their_deployments_and_latest_sample(reader, fleet):
    gpu = fleet["gpus"][0]
    GpuSample.objects.create(gpu=gpu, ts=T0, util_gpu=42.0, power_w=300.0, temp_c=55.0)
    row = reader.get(f"{V1}gpus/{gpu.pk}").json()
    assert row["uuid"] == "g-0" and row["node_name"] == "node-1"
    assert row["deployments"] == [fleet["deployments"][0].pk]
    assert row["last_sample_at"] == "2026-03-02T00:00:00Z" and row["last_util_gpu"] == 42.0


def test_gpu_filters(reader, fleet):
    chat = fleet["deployments"][0]
    assert names(reader.get(V1 + "gpus", {"node": "node-1"}), "uuid") == ["g-0", "g-1"]
    assert names(reader.get(V1 + "gpus", {"deployment": chat.pk}), "uuid") == ["g-0"]
    assert names(reader.get(V1 + "gpus", {"gpu": "g-1"}), "uuid") == ["g-1"]
    # A label reaches a GPU through its node or a deployment on it.
    assert names(reader.get(V1 + "gpus", {"label": "team:search"}), "uuid") == ["g-0"]
    assert names(reader.get(V1 + "gpus", {"label": "team:infra"}), "uuid") == ["g-2"]
    both = {"label": ["rack:r1", "team:ads"]}
    assert names(reader.get(V1 + "gpus", both), "uuid") == ["g-1"]


def test_deployment_filters(reader, fleet):
    assert names(reader.get(V1 + "deployments")) == ["batch", "chat", "embed"]
    assert names(reader.get(V1 + "deployments", {"node": "node-1"})) == ["chat", "embed"]
    assert names(reader.get(V1 + "deployments", {"gpu": "g-1"})) == ["embed"]
    assert names(reader.get(V1 + "deployments", {"label": "team:search"})) == ["chat"]
    # The node's labels count for what runs on it.
    assert names(reader.get(V1 + "deployments", {"label": "team:infra"})) == ["batch"]
    row = reader.get(V1 + "deployments", {"deployment": "chat"}).json()["results"][0]
    assert row["gpus"] == [fleet["gpus"][0].pk] and row["labels"] == {"team": "search"}


def test_agents_show_last_contact_and_never_the_token_hash(reader, fleet):
    agent = fleet["agents"][1]
    Agent.objects.filter(pk=agent.pk).update(last_seen_at=T0, version="0.3.1")
    body = reader.get(V1 + "agents", {"node": "node-2"}).json()
    [row] = body["results"]
    assert row["name"] == "agent-2" and row["version"] == "0.3.1"
    assert row["last_seen_at"] == "2026-03-02T00:00:00Z" and row["active"] is True
    assert row["nodes"] == [fleet["nodes"][1].pk]
    assert row["token_prefix"] == agent.token_prefix
    assert "token_hash" not in row and agent.token_hash not in str(body)


def test_lists_filter_by_when_rows_were_created(reader, fleet):
    Node.objects.filter(name="node-1").update(created_at=T0 - timedelta(days=3))
    Node.objects.filter(name="node-2").update(created_at=T0)
    wanted = {"start": "2026-03-01T00:00:00Z", "end": "2026-03-03"}  # a date: its midnight
    assert names(reader.get(V1 + "nodes", wanted)) == ["node-2"]
    wanted = {"start": "2026-03-02T01:00:00+01:00", "end": "2026-03-02T00:00:01"}
    assert names(reader.get(V1 + "nodes", wanted)) == ["node-2"]
    wanted = {"start": "2026-03-02T00:00:01", "end": "2026-03-03T00:00"}
    assert names(reader.get(V1 + "nodes", wanted)) == []


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"start": "yesterday"}, "start"),
        ({"end": "2026-13-01T00:00"}, "end"),
        ({"start": "2026-03-02T00:00", "end": "2026-03-01T00:00"}, "end"),
        ({"start": "1066-10-14T09:00"}, "start"),
        ({"label": "team"}, "label"),
        ({"label": "=search"}, "label"),
        ({"format": "xml"}, "format"),
        ({"node": "x" * 201}, "node"),
        ({"node": "a\x00b"}, "node"),
        ({"node": [str(i) for i in range(101)]}, "node"),
    ],
)
def test_bad_filters_get_400_with_field_errors(reader, fleet, params, field):
    response = reader.get(V1 + "deployments", params)
    assert field in errors(response), response.json()
    assert response.json()["detail"] == "Invalid request."


def test_pages_are_bounded_and_numbered(reader, fleet):
    node = fleet["nodes"][0]
    Gpu.objects.bulk_create(Gpu(node=node, uuid=f"x-{i:03d}", index=i) for i in range(597))
    first = reader.get(V1 + "gpus").json()
    assert first["count"] == 600 and len(first["results"]) == 100
    capped = reader.get(V1 + "gpus", {"page_size": 10_000}).json()
    assert len(capped["results"]) == 500 and capped["next"].endswith("page=2&page_size=10000")
    rest = reader.get(capped["next"]).json()
    assert len(rest["results"]) == 100 and rest["next"] is None
    seen = [row["id"] for row in capped["results"] + rest["results"]]
    assert len(set(seen)) == 600
    assert len(reader.get(V1 + "gpus", {"page_size": "-3"}).json()["results"]) == 100
    assert errors(reader.get(V1 + "gpus", {"page": 99})) == {"page": "There is no such page."}


def test_an_unknown_row_is_a_404(reader, fleet):
    response = reader.get(V1 + "nodes/999999")
    assert response.status_code == 404 and response.json()["errors"] == []


@pytest.mark.parametrize(
    "path",
    [
        "costs/prices",
        "costs/node-prices",
        "costs/budgets",
        "costs/hosted-alternatives",
        "alerts/channels",
        "alerts/rules",
        "alerts/silences",
        "alerts/alerts",
        "alerts/deliveries",
        "profiling/jobs",
        "recommendations/",
    ],
)
def test_the_other_apps_lists_come_in_bounded_pages(path, reader):
    body = reader.get(V1 + path, {"page_size": 10_000}).json()
    assert set(body) == {"count", "next", "previous", "results"}
    # One page, empty: a page past it is a bad parameter, as on every list.
    assert errors(reader.get(V1 + path, {"page": 2})) == {"page": "There is no such page."}


@pytest.mark.parametrize("path", FLEET)
def test_a_page_costs_the_same_queries_however_many_rows(
    path, reader, fleet, django_assert_max_num_queries
):
    node = fleet["nodes"][0]
    reader.get(V1 + path)  # the token's last_used_at is written once a minute
    for i in range(40):
        agent = agent_create(f"more-{i}")[0]
        more = Node.objects.create(name=f"more-{i}", agent=agent)
        gpu = Gpu.objects.create(node=node, uuid=f"more-{i}")
        Deployment.objects.create(node=more, name=f"more-{i}").gpus.add(gpu)
    with django_assert_max_num_queries(5):
        assert reader.get(V1 + path).status_code == 200


def test_only_people_who_manage_agents_see_a_tokens_first_characters(teammate, fleet):
    # The prefix is part of the secret: a read-only teammate gets null.
    _, token = api_token_create(teammate, "bob's", "read")
    rows = Client(**bearer(token)).get(V1 + "agents").json()["results"]
    assert rows and all(row["token_prefix"] is None for row in rows)
    assert not any(a.token_prefix in str(rows) for a in fleet["agents"])
