"""docs/ingest.md is the contract for people who write their own collector.

Its complete example must be accepted exactly as the page says, and the page
must name every field of the ingest body, so it cannot fall behind the schema.
"""

import json
import typing
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
import pytest
from django.test import Client

from collectors.models import Deployment, Gpu, GpuSample, InferenceSample, Node
from collectors.schema import (
    Batch,
    DeploymentIn,
    GpuIn,
    GpuSampleIn,
    Histogram,
    InferenceSampleIn,
    Inventory,
    NodeIn,
    ServerKindName,
)
from collectors.services import agent_create
from tests.collectors.bodies import DOC, doc_text, documented_example

INGEST_URL = "/api/v1/ingest"


def with_recent_timestamps(body: dict[str, Any]) -> dict[str, Any]:
    """The example's samples, moved to a few seconds ago (the server refuses the future)."""
    ts = (datetime.now(UTC) - timedelta(seconds=5)).isoformat()
    for key in ("gpu_samples", "inference_samples"):
        for sample in body[key]:
            sample["ts"] = ts
    return body


def post_batch(client: Client, body: dict[str, Any], token: str) -> Any:
    return client.post(
        INGEST_URL,
        data=json.dumps(body).encode(),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )


def test_the_documented_example_is_accepted(client: Client, db: None) -> None:
    example = documented_example()
    _, token = agent_create("docs-agent")

    response = post_batch(client, with_recent_timestamps(example), token)

    assert response.status_code == 200, response.content
    # The page promises these counts for its example.
    assert response.json() == {
        "batch_id": example["batch_id"],
        "accepted": {"gpu_samples": 2, "inference_samples": 1},
        "duplicate": False,
    }
    assert GpuSample.objects.count() == len(example["gpu_samples"]) == 2
    assert InferenceSample.objects.count() == len(example["inference_samples"]) == 1
    inventory = example["inventory"]
    assert set(Node.objects.values_list("name", flat=True)) == {
        node["name"] for node in inventory["nodes"]
    }
    assert set(Gpu.objects.values_list("uuid", flat=True)) == {
        gpu["uuid"] for gpu in inventory["gpus"]
    }
    (documented,) = inventory["deployments"]
    deployment = Deployment.objects.get(node__name=documented["node"], name=documented["name"])
    assert deployment.server_kind == documented["server"]
    assert deployment.labels == documented["labels"]
    assert {gpu.uuid for gpu in deployment.gpus.all()} == set(documented["gpus"])
    stored = InferenceSample.objects.get()
    assert stored.deployment_id == deployment.pk
    assert stored.ttft_hist == example["inference_samples"][0]["ttft_hist"]


def test_retrying_the_documented_example_stores_nothing_new(client: Client, db: None) -> None:
    example = with_recent_timestamps(documented_example())
    _, token = agent_create("docs-agent")
    first = post_batch(client, example, token)
    assert first.status_code == 200, first.content

    retry = post_batch(client, example, token)

    assert retry.status_code == 200, retry.content
    assert retry.json() == {**first.json(), "duplicate": True}
    assert GpuSample.objects.count() == 2
    assert InferenceSample.objects.count() == 1


BODY_STRUCTS = (
    Batch,
    Inventory,
    NodeIn,
    GpuIn,
    DeploymentIn,
    GpuSampleIn,
    InferenceSampleIn,
    Histogram,
)


@pytest.mark.parametrize("struct", BODY_STRUCTS, ids=lambda s: s.__name__)
def test_the_docs_name_every_field_of_the_ingest_body(struct: type[msgspec.Struct]) -> None:
    text = doc_text()
    missing = [f.name for f in msgspec.structs.fields(struct) if f"`{f.name}`" not in text]
    assert not missing, f"{DOC.name} does not document {struct.__name__} fields {missing}"


def test_the_docs_list_every_server_kind() -> None:
    text = doc_text()
    missing = [kind for kind in typing.get_args(ServerKindName) if f'`"{kind}"`' not in text]
    assert not missing, f"{DOC.name} does not list the server kinds {missing}"
