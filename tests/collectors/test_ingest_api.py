import gzip
from datetime import timedelta

import msgspec
import pytest
from django.test import override_settings

from collectors.models import Agent, Deployment, Gpu, GpuSample, InferenceSample, IngestBatch, Node
from tests.builders.ingest import (
    INGEST_URL,
    batch,
    gpu_sample,
    inference_sample,
    inventory,
    now_utc,
)
from tests.collectors.bodies import assert_field_error, stored

pytestmark = pytest.mark.django_db


def not_a_json_number(token: str) -> str:
    return f"Malformed JSON: {token} is not a finite number in range"


class TestValidBatches:
    def test_it_stores_samples_and_inventory(self, post_batch, agent_token):
        response = post_batch(batch(gpu_samples=6))
        assert response.status_code == 200, response.content
        assert response.json() == {
            "batch_id": "batch-1",
            "accepted": {"gpu_samples": 6, "inference_samples": 1},
            "duplicate": False,
        }
        node = Node.objects.get(name="node-1")
        assert node.labels == {"rack": "r1"} and not node.simulated
        assert Gpu.objects.filter(node=node).count() == 2
        deployment = Deployment.objects.get(name="chat-8b")
        assert deployment.server_kind == "vllm"
        assert [g.uuid for g in deployment.gpus.all()] == ["GPU-0000"]
        assert GpuSample.objects.count() == 6
        sample = GpuSample.objects.filter(gpu__uuid="GPU-0000").order_by("ts").first()
        assert sample.power_w == pytest.approx(612.3)
        assert sample.mem_used_bytes == 70 * 2**30
        assert sample.ts.tzinfo is not None
        inference = InferenceSample.objects.get()
        assert inference.requests_ok == 42 and inference.prompt_tokens == 25_000
        assert inference.ttft_hist == {
            "bounds": [0.05, 0.1, 0.5],
            "counts": [10, 25, 7, 1],
            "sum": 4.2,
        }
        assert inference.itl_hist is None and inference.preemptions is None
        agent = Agent.objects.get(pk=agent_token[0].pk)
        assert agent.last_seen_at is not None and agent.version == "0.1.0"
        assert node.agent == agent

    def test_unsupported_fields_are_stored_as_null_not_zero(self, post_batch):
        body = batch(gpu_samples=0)
        body["gpu_samples"] = [{"gpu": "GPU-0000", "ts": now_utc().isoformat(), "util_gpu": 5.0}]
        assert post_batch(body).status_code == 200
        sample = GpuSample.objects.get()
        assert sample.util_gpu == 5.0
        assert sample.power_w is None and sample.ecc_corrected is None and sample.temp_c is None

    def test_it_accepts_a_gzip_body(self, post_batch):
        response = post_batch(batch(gpu_samples=10), compress=True)
        assert response.status_code == 200, response.content
        assert GpuSample.objects.count() == 10

    def test_later_batches_may_name_stored_gpus_without_inventory(self, post_batch):
        assert post_batch(batch()).status_code == 200
        later = batch("batch-2", inventory={}, earlier_s=3600)
        assert post_batch(later).status_code == 200
        assert GpuSample.objects.count() == 8

    def test_inventory_changes_update_the_fleet(self, post_batch):
        assert post_batch(batch()).status_code == 200
        changed = batch("batch-2")
        changed["inventory"]["gpus"][1]["model"] = "NVIDIA H200"
        changed["inventory"]["deployments"][0]["gpus"] = ["GPU-0000", "GPU-0001"]
        changed["inventory"]["deployments"][0]["labels"] = {"team": "ads"}
        assert post_batch(changed).status_code == 200
        assert Gpu.objects.get(uuid="GPU-0001").model_name == "NVIDIA H200"
        deployment = Deployment.objects.get()
        assert deployment.labels == {"team": "ads"}
        assert deployment.gpus.count() == 2

    def test_a_deployment_name_on_two_nodes_needs_the_node(self, post_batch):
        body = batch()
        body["inventory"]["nodes"].append({"name": "node-2"})
        second = dict(body["inventory"]["deployments"][0], node="node-2", gpus=[])
        body["inventory"]["deployments"].append(second)
        assert_field_error(post_batch(body), "inference_samples[0].deployment", "several nodes")
        body["inference_samples"][0]["node"] = "node-2"
        assert post_batch(body).status_code == 200
        assert InferenceSample.objects.get().deployment.node.name == "node-2"


class TestIdempotency:
    def test_a_repeated_batch_id_stores_once_and_answers_the_same_counts(self, post_batch):
        body = batch(gpu_samples=4)
        first = post_batch(body)
        second = post_batch(body)
        assert first.status_code == second.status_code == 200
        assert first.json()["accepted"] == second.json()["accepted"]
        assert second.json()["duplicate"] is True
        assert GpuSample.objects.count() == 4
        assert IngestBatch.objects.count() == 1

    def test_batch_ids_are_per_agent(self, post_batch):
        from collectors.services import agent_create

        _, other_token = agent_create("other-agent")
        assert post_batch(batch()).json()["duplicate"] is False
        other = batch(node="node-2", prefix="GPU-B")
        assert post_batch(other, token=other_token).json()["duplicate"] is False
        assert GpuSample.objects.count() == 8


class TestAuthentication:
    def test_it_refuses_a_missing_token(self, client):
        response = client.post(INGEST_URL, data=b"{}", content_type="application/json")
        assert response.status_code == 401
        assert response["WWW-Authenticate"].startswith("Bearer")
        assert response.json()["detail"]

    def test_it_refuses_an_unknown_token(self, post_batch):
        response = post_batch(batch(), token="isa_not-a-real-token")
        assert response.status_code == 401
        assert "Unknown agent token" in response.json()["detail"]
        assert stored() == (0, 0, 0, 0, 0, 0)

    def test_it_rejects_a_revoked_token(self, post_batch, agent_token):
        Agent.objects.filter(pk=agent_token[0].pk).update(revoked_at=now_utc())
        response = post_batch(batch())
        assert response.status_code == 401
        assert "revoked" in response.json()["detail"]
        assert GpuSample.objects.count() == 0

    def test_it_refuses_a_malformed_authorization_header(self, client):
        response = client.post(
            INGEST_URL, data=b"{}", content_type="application/json", HTTP_AUTHORIZATION="Bearer a b"
        )
        assert response.status_code == 401

    def test_a_browser_session_is_not_an_agent(self, client, owner):
        client.force_login(owner)
        body = msgspec.json.encode(batch())
        response = client.post(INGEST_URL, data=body, content_type="application/json")
        assert response.status_code == 401


def _bad(body_change) -> dict:
    body = batch()
    body_change(body)
    return body


BAD_BODIES = {
    "wrong type": (
        lambda b: b["gpu_samples"][0].update(power_w="612 W"),
        "gpu_samples[0].power_w",
        "expected",
    ),
    "missing field": (lambda b: b["gpu_samples"][0].pop("ts"), "gpu_samples[0].ts", "required"),
    "missing batch id": (lambda b: b.pop("batch_id"), "batch_id", "required"),
    "unknown field": (
        lambda b: b["gpu_samples"][1].update(power=1),
        "gpu_samples[1].power",
        "unknown",
    ),
    "negative counter": (
        lambda b: b["inference_samples"][0].update(prompt_tokens=-5),
        "inference_samples[0].prompt_tokens",
        ">= 0",
    ),
    "negative energy": (
        lambda b: b["gpu_samples"][2].update(energy_j=-1.0),
        "gpu_samples[2].energy_j",
        ">= 0",
    ),
    "percent over 100": (
        lambda b: b["gpu_samples"][0].update(util_gpu=250),
        "gpu_samples[0].util_gpu",
        "<= 100",
    ),
    "naive timestamp": (
        lambda b: b["gpu_samples"][0].update(ts="2026-01-01T00:00:00"),
        "gpu_samples[0].ts",
        "timezone",
    ),
    "before 2000": (
        lambda b: b["gpu_samples"][3].update(ts="1999-12-31T23:59:59Z"),
        "gpu_samples[3].ts",
        "before 2000",
    ),
    "far future": (
        lambda b: b["inference_samples"][0].update(ts=(now_utc() + timedelta(hours=2)).isoformat()),
        "inference_samples[0].ts",
        "ahead",
    ),
    "unknown schema version": (
        lambda b: b.update(schema_version=2),
        "schema_version",
        "unknown schema",
    ),
    "bad batch id": (lambda b: b.update(batch_id="has space"), "batch_id", "letters, digits"),
    "histogram length": (
        lambda b: b["inference_samples"][0]["ttft_hist"].update(counts=[1, 2]),
        "inference_samples[0].ttft_hist",
        "one entry per bound",
    ),
    "histogram order": (
        lambda b: b["inference_samples"][0]["ttft_hist"].update(bounds=[0.5, 0.1, 1.0]),
        "inference_samples[0].ttft_hist",
        "increasing",
    ),
    "nul in a name": (
        lambda b: b["inventory"]["nodes"][0].update(name="node\u00001"),
        "inventory.nodes[0].name",
        "",
    ),
    "unknown gpu": (
        lambda b: b["gpu_samples"][0].update(gpu="GPU-9999"),
        "gpu_samples[0].gpu",
        "unknown gpu",
    ),
    "unknown deployment": (
        lambda b: b["inference_samples"][0].update(deployment="nope"),
        "inference_samples[0].deployment",
        "unknown deployment",
    ),
    "gpu on an unknown node": (
        lambda b: b["inventory"]["gpus"][0].update(node="node-9"),
        "inventory.gpus[0].node",
        "unknown node",
    ),
    "server kind": (
        lambda b: b["inventory"]["deployments"][0].update(server="ollama"),
        "inventory.deployments[0].server",
        "",
    ),
}


class TestBadInput:
    @pytest.mark.parametrize("case", BAD_BODIES, ids=list(BAD_BODIES))
    def test_it_refuses_with_a_field_error_and_stores_nothing(self, post_batch, case):
        change, field, fragment = BAD_BODIES[case]
        response = post_batch(_bad(change))
        assert_field_error(response, field, fragment)
        assert response.json()["detail"]
        assert stored() == (0, 0, 0, 0, 0, 0)

    def test_it_lists_every_error_not_just_the_first(self, post_batch):
        body = batch()
        body["gpu_samples"][0]["power_w"] = "x"
        body["gpu_samples"][1]["util_gpu"] = -1
        body["inference_samples"][0]["requests_ok"] = -1
        fields = {e["field"] for e in post_batch(body).json()["errors"]}
        assert {"gpu_samples[0].power_w", "gpu_samples[1].util_gpu"} <= fields
        assert "inference_samples[0].requests_ok" in fields

    @pytest.mark.parametrize(
        ("raw", "message"),
        [
            (b"{", "Malformed JSON: the body ends before the JSON does"),
            (b"[]", "The body must be a JSON object"),
            (b"null", "The body must be a JSON object"),
            (b'"text"', "The body must be a JSON object"),
            (b"nan", "Malformed JSON at byte 0"),
            (b'{"schema_version": 1, "batch_id": nul}', "Malformed JSON at byte 34"),
            (b'{"schema_version": 1, "batch_id": NaN}', not_a_json_number("NaN")),
            (b'{"model": "\xc3\xa9", "x": 1,, }', "Malformed JSON at byte 23"),
            (b"{} x", "Malformed JSON at byte 3"),
            (b"\xff\xfe", "The body is not valid UTF-8 (byte 0)"),
            (b'{"a": "\xc3"}', "The body is not valid UTF-8 (byte 7)"),
        ],
    )
    def test_it_refuses_malformed_json_in_its_own_words(self, post_batch, raw, message):
        response = post_batch(raw)
        assert response.status_code == 400
        assert response.json()["errors"] == [{"field": "", "message": message}]

    @pytest.mark.parametrize("token", [b"NaN", b"Infinity", b"-Infinity", b"1e400", b"-1e400"])
    def test_it_refuses_nan_and_infinity(self, post_batch, token):
        raw = msgspec.json.encode(batch()).replace(b'"temp_c":71.0', b'"temp_c":' + token, 1)
        response = post_batch(raw)
        assert response.status_code == 400
        message = not_a_json_number(token.decode())
        assert response.json()["errors"] == [{"field": "", "message": message}]
        assert GpuSample.objects.count() == 0

    def test_it_refuses_an_empty_body(self, post_batch):
        response = post_batch(b"")
        assert response.status_code == 400
        assert response.json()["errors"][0]["message"] == "The body is empty."

    def test_it_refuses_a_body_of_whitespace(self, post_batch):
        response = post_batch(b" \n")
        assert response.json()["errors"] == [
            {"field": "", "message": "Malformed JSON: the body is empty"}
        ]

    def test_it_refuses_more_samples_than_the_limit(self, post_batch):
        with override_settings(INGEST_MAX_SAMPLES=5):
            response = post_batch(batch(gpu_samples=6))
        assert_field_error(response, "gpu_samples", "at most 5")

    def test_a_bad_batch_leaves_earlier_data_alone(self, post_batch):
        assert post_batch(batch()).status_code == 200
        before = stored()
        bad = batch("batch-2")
        bad["inventory"]["gpus"][0]["model"] = "changed"
        bad["inference_samples"][0]["deployment"] = "unknown"
        assert post_batch(bad).status_code == 400
        assert stored() == before
        assert Gpu.objects.get(uuid="GPU-0000").model_name == "NVIDIA H100 80GB HBM3"
        assert not IngestBatch.objects.filter(batch_id="batch-2").exists()

    def test_a_refused_batch_id_can_be_sent_again_once_fixed(self, post_batch):
        bad = batch()
        bad["gpu_samples"][0]["gpu"] = "GPU-9999"
        assert post_batch(bad).status_code == 400
        assert post_batch(batch()).status_code == 200
        assert GpuSample.objects.count() == 4


class TestBodyLimits:
    def test_it_answers_413_for_a_body_over_the_limit(self, post_batch):
        with override_settings(INGEST_MAX_BODY_BYTES=2048):
            response = post_batch(batch(gpu_samples=40))
        assert response.status_code == 413
        assert "limit" in response.json()["detail"]
        assert GpuSample.objects.count() == 0

    def test_it_answers_413_for_a_gzip_bomb(self, post_batch):
        bomb = gzip.compress(b'{"schema_version": 1, "pad": "' + b" " * 5_000_000 + b'"}')
        assert len(bomb) < 20_000
        with override_settings(INGEST_MAX_BODY_BYTES=1_000_000):
            response = post_batch(bomb, HTTP_CONTENT_ENCODING="gzip")
        assert response.status_code == 413

    def test_it_refuses_broken_gzip(self, post_batch):
        response = post_batch(b"not gzip at all", HTTP_CONTENT_ENCODING="gzip")
        assert response.status_code == 400
        truncated = gzip.compress(msgspec.json.encode(batch()))[:-20]
        assert post_batch(truncated, HTTP_CONTENT_ENCODING="gzip").status_code == 400

    def test_it_refuses_an_unknown_content_encoding(self, post_batch):
        assert post_batch(batch(), HTTP_CONTENT_ENCODING="br").status_code == 415

    def test_it_refuses_a_form_body(self, post_batch):
        response = post_batch(b"a=1", content_type="application/x-www-form-urlencoded")
        assert response.status_code == 415

    def test_deeply_nested_json_is_a_400(self, post_batch):
        assert post_batch(b"[" * 100_000).status_code == 400
        nested = (
            b'{"schema_version": 1, "batch_id": "x", "inventory": '
            + b"[" * 50_000
            + b"]" * 50_000
            + b"}"
        )
        assert post_batch(nested).status_code == 400


def test_only_post_is_allowed(client, agent_token):
    response = client.get(INGEST_URL, HTTP_AUTHORIZATION=f"Bearer {agent_token[1]}")
    assert response.status_code == 405


def test_sample_helpers_are_valid():
    # Guards the helpers above: every field the schema has is exercised by them.
    from collectors.schema import GpuSampleIn, InferenceSampleIn

    assert set(gpu_sample()) == set(GpuSampleIn.__struct_fields__)
    assert set(inference_sample()) <= set(InferenceSampleIn.__struct_fields__)
    assert inventory()["gpus"][0]["uuid"] == "GPU-0000"


@pytest.mark.parametrize(
    ("where", "field", "length"),
    [
        (("inventory", "gpus", 0, "uuid"), "inventory.gpus[0].uuid", 101),
        (("inventory", "nodes", 0, "hostname"), "inventory.nodes[0].hostname", 256),
        (("inventory", "gpus", 0, "model"), "inventory.gpus[0].model", 201),
        (("inventory", "deployments", 0, "model"), "inventory.deployments[0].model", 301),
        (("agent_version",), "agent_version", 101),
    ],
)
def test_strings_longer_than_their_column_are_a_400(post_batch, where, field, length):
    body = batch()
    target = body
    for key in where[:-1]:
        target = target[key]
    target[where[-1]] = "x" * length
    assert_field_error(post_batch(body), field, "length")
    assert stored() == (0, 0, 0, 0, 0, 0)


def test_errors_inside_a_histogram_name_their_own_field(post_batch):
    body = batch()
    body["inference_samples"][0]["ttft_hist"]["count"] = 3
    assert_field_error(post_batch(body), "inference_samples[0].ttft_hist.count", "unknown field")
