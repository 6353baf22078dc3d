"""Who may write what, and what is stored once."""

import gzip

import msgspec
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from collectors.models import Deployment, Gpu, GpuSample, InferenceSample, Node
from collectors.services import agent_create
from tests.builders.ingest import INGEST_URL, batch, inventory
from tests.collectors.bodies import assert_field_error, stored

pytestmark = pytest.mark.django_db


class TestDuplicateSamples:
    def test_a_sample_repeated_in_a_batch_is_stored_once(self, post_batch):
        body = batch()
        body["gpu_samples"].append(dict(body["gpu_samples"][0]))
        body["inference_samples"].append(dict(body["inference_samples"][0]))
        assert post_batch(body).status_code == 200
        assert GpuSample.objects.count() == 4
        assert InferenceSample.objects.count() == 1

    def test_samples_resent_under_a_new_batch_id_are_stored_once(self, post_batch):
        body = batch("first")
        assert post_batch(body).status_code == 200
        body["batch_id"] = "second"
        body["gpu_samples"][0]["power_w"] = 1.0  # the first value stays
        assert post_batch(body).status_code == 200
        assert GpuSample.objects.count() == 4
        assert InferenceSample.objects.count() == 1
        assert not GpuSample.objects.filter(power_w=1.0).exists()


class TestOwnership:
    @pytest.fixture
    def other_token(self, post_batch) -> str:
        assert post_batch(batch()).status_code == 200
        return agent_create("intruder")[1]

    def test_another_agent_cannot_rewrite_a_node(self, post_batch, other_token):
        body = batch("x", gpu_samples=0)
        body["inventory"] = {"nodes": [{"name": "node-1"}]}
        body["inference_samples"] = []
        assert_field_error(
            post_batch(body, token=other_token), "inventory.nodes[0].name", "another agent"
        )
        assert Node.objects.get().labels == {"rack": "r1"}

    def test_another_agent_cannot_move_a_gpu(self, post_batch, other_token):
        body = batch("x", node="node-2", prefix="GPU-B", gpu_samples=0)
        body["inventory"]["gpus"].append({"uuid": "GPU-0000", "node": "node-2"})
        response = post_batch(body, token=other_token)
        assert_field_error(response, "inventory.gpus[2].uuid", "another agent")
        assert Gpu.objects.get(uuid="GPU-0000").node.name == "node-1"
        assert not Node.objects.filter(name="node-2").exists()

    def test_another_agent_cannot_post_samples_for_a_gpu(self, post_batch, other_token):
        body = batch("x", inventory={}, earlier_s=600)
        body["inference_samples"] = []
        assert_field_error(
            post_batch(body, token=other_token), "gpu_samples[0].gpu", "another agent"
        )

    def test_another_agent_cannot_post_samples_for_a_deployment(self, post_batch, other_token):
        body = batch("x", inventory={}, gpu_samples=0, earlier_s=600)
        response = post_batch(body, token=other_token)
        assert_field_error(response, "inference_samples[0].deployment", "unknown deployment")

    def test_an_unowned_node_is_claimed_by_the_next_agent(self, post_batch, other_token):
        Node.objects.update(agent=None)
        body = batch("x", earlier_s=600)
        assert post_batch(body, token=other_token).status_code == 200
        assert Node.objects.get().agent.name == "intruder"


class TestInventoryConsistency:
    def test_a_gpu_listed_twice_is_refused(self, post_batch):
        body = batch()
        body["inventory"]["gpus"].append(dict(body["inventory"]["gpus"][0], node="node-1"))
        assert_field_error(post_batch(body), "inventory.gpus[2]", "listed twice")
        assert stored() == (0, 0, 0, 0, 0, 0)

    def test_a_node_listed_twice_is_refused(self, post_batch):
        body = batch()
        body["inventory"]["nodes"].append({"name": "node-1"})
        assert_field_error(post_batch(body), "inventory.nodes[1]", "listed twice")

    def test_a_deployment_cannot_use_a_gpu_on_another_node(self, post_batch):
        body = batch()
        body["inventory"]["nodes"].append({"name": "node-2"})
        body["inventory"]["gpus"][1]["node"] = "node-2"
        body["inventory"]["deployments"][0]["gpus"] = ["GPU-0000", "GPU-0001"]
        assert_field_error(post_batch(body), "inventory.deployments[0].gpus", "not on node")

    def test_inventory_lists_are_bounded(self, post_batch):
        body = batch(gpu_samples=0)
        body["inventory"]["nodes"] = [{"name": f"n{i}"} for i in range(1001)]
        assert_field_error(post_batch(body), "inventory.nodes", "length <= 1000")

    def test_queries_do_not_grow_with_the_inventory(self, post_batch, agent_token):
        def queries_for(deployments: int, batch_id: str) -> int:
            body = batch(batch_id, gpu_samples=0)
            body["inventory"] = inventory(gpus=deployments)
            body["inventory"]["deployments"] = [
                {"name": f"d{i}", "node": "node-1", "gpus": [f"GPU-{i:04d}"]}
                for i in range(deployments)
            ]
            body["inference_samples"] = []
            with CaptureQueriesContext(connection) as ctx:
                assert post_batch(body).status_code == 200
            return len(ctx.captured_queries)

        queries_for(1, "creates-the-node")
        assert queries_for(3, "small") == queries_for(60, "large")
        assert Deployment.objects.count() == 60


class TestTransport:
    def test_a_chunked_body_gets_411(self, client, agent_token):
        response = client.generic(
            "POST",
            INGEST_URL,
            data=b"",
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Bearer {agent_token[1]}",
            HTTP_TRANSFER_ENCODING="chunked",
        )
        assert response.status_code == 411
        assert "Content-Length" in response.json()["detail"]

    def test_data_after_the_gzip_stream_is_refused(self, post_batch):
        data = gzip.compress(msgspec.json.encode(batch())) + b"trailing"
        response = post_batch(data, HTTP_CONTENT_ENCODING="gzip")
        assert response.status_code == 400
        assert GpuSample.objects.count() == 0

    @pytest.mark.parametrize("bad", [b"\xff", b"\xed\xa0\x80", b"\xc3"])
    def test_invalid_utf8_inside_a_string_is_a_400(self, post_batch, bad):
        raw = msgspec.json.encode(batch()).replace(b'"0.1.0"', b'"0.1.0' + bad + b'"', 1)
        response = post_batch(raw)
        assert response.status_code == 400
        at = raw.index(bad)
        message = response.json()["errors"][0]["message"]
        assert message == f"The body is not valid UTF-8 (byte {at})"

    def test_a_batch_id_with_a_trailing_newline_is_refused(self, post_batch):
        assert_field_error(post_batch(batch("abc\n")), "batch_id", "letters, digits")


def test_a_sample_may_name_a_stored_deployment_on_another_of_its_nodes(post_batch):
    assert post_batch(batch()).status_code == 200
    second = batch("b2", node="node-2", prefix="GPU-B", earlier_s=600)
    assert post_batch(second).status_code == 200
    # Lists node-2's deployment, but the sample is for the one stored on node-1.
    third = batch("b3", node="node-2", prefix="GPU-B", earlier_s=1200, gpu_samples=0)
    third["inference_samples"][0]["node"] = "node-1"
    assert post_batch(third).status_code == 200
    assert InferenceSample.objects.filter(deployment__node__name="node-1").count() == 2


def test_a_gpu_moved_to_another_node_leaves_the_old_nodes_deployments(post_batch):
    assert post_batch(batch()).status_code == 200  # chat-8b on node-1 uses GPU-0000
    move = batch("move", gpu_samples=0, inference_samples=[])
    move["inventory"] = {
        "nodes": [{"name": "node-2"}],
        "gpus": [{"uuid": "GPU-0000", "node": "node-2"}],
    }
    assert post_batch(move).status_code == 200
    assert Deployment.objects.get().gpus.count() == 0


def test_names_that_only_look_alike_are_not_duplicates(post_batch):
    body = batch(gpu_samples=0, inference_samples=[])
    body["inventory"]["nodes"] += [{"name": "b on c"}, {"name": "b"}]
    body["inventory"]["deployments"] = [
        {"name": "a on b", "node": "c"},
        {"name": "a", "node": "b on c"},
    ]
    body["inventory"]["nodes"].append({"name": "c"})
    assert post_batch(body).status_code == 200
    assert Deployment.objects.count() == 2


def test_an_unowned_node_must_be_listed_to_be_written_through(post_batch, agent_token):
    assert post_batch(batch()).status_code == 200
    Node.objects.update(agent=None)
    body = batch("x", gpu_samples=0, inference_samples=[], earlier_s=600)
    body["inventory"] = {"gpus": [{"uuid": "GPU-0009", "node": "node-1"}]}
    assert_field_error(post_batch(body), "inventory.gpus[0].node", "no agent")
    samples_only = batch("y", inventory={}, earlier_s=1200)
    samples_only["inference_samples"] = []
    assert_field_error(post_batch(samples_only), "gpu_samples[0].gpu", "no agent owns")


def test_a_deployment_without_gpus_keeps_the_stored_ones(post_batch):
    assert post_batch(batch()).status_code == 200  # chat-8b uses GPU-0000
    later = batch("later", earlier_s=600)
    del later["inventory"]["deployments"][0]["gpus"]
    assert post_batch(later).status_code == 200
    assert [g.uuid for g in Deployment.objects.get().gpus.all()] == ["GPU-0000"]
    emptied = batch("emptied", earlier_s=1200)
    emptied["inventory"]["deployments"][0]["gpus"] = []
    assert post_batch(emptied).status_code == 200
    assert Deployment.objects.get().gpus.count() == 0
