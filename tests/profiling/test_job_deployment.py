"""A job queued through the API may name the deployment its sweep stands for."""

import pytest
from django.test import Client

from collectors.models import Deployment, Node
from profiling.models import ProfilingJob
from tests.profiling.jobs import JOBS, SPEC, poll, queue

pytestmark = pytest.mark.django_db


def test_the_api_stores_the_deployment_and_reads_it_back(client: Client, owner, agent) -> None:
    dep = Deployment.objects.create(node=Node.objects.get(name="gpu-1"), name="chat")
    job = queue(client, owner, agent, deployment=dep.pk)
    assert (job["deployment"], job["deployment_name"]) == (dep.pk, "chat")
    assert ProfilingJob.objects.get(pk=job["id"]).deployment == dep
    detail = client.get(f"{JOBS}/{job['id']}").json()
    assert detail["deployment_name"] == "chat"
    listed = client.get(JOBS).json()
    rows = listed["results"] if isinstance(listed, dict) else listed
    assert rows[0]["deployment"] == dep.pk
    # Optional: null, or left out, is no deployment.
    assert queue(client, owner, agent, deployment=None)["deployment"] is None
    assert queue(client, owner, agent)["deployment_name"] is None


def test_the_api_refuses_an_unknown_deployment(client: Client, owner, agent) -> None:
    client.force_login(owner)
    poll(Client(), agent)
    node = Node.objects.get(name="gpu-1")
    body = {"node": node.pk, "spec": SPEC, "deployment": 99999}
    response = client.post(JOBS, body, content_type="application/json")
    assert response.status_code == 400
    [error] = response.json()["errors"]
    assert error["field"] == "deployment" and "does not exist" in error["message"]
    assert not ProfilingJob.objects.exists()
