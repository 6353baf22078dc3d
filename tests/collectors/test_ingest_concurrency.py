import threading

import msgspec
import pytest
from django.db import connection, connections
from django.test import Client

from collectors.models import Gpu, GpuSample, IngestBatch
from collectors.services import agent_create
from tests.builders.ingest import INGEST_URL, batch, inventory


def _post_at_once(bodies_and_tokens: list[tuple[bytes, str]]) -> list[tuple[int, dict]]:
    barrier = threading.Barrier(len(bodies_and_tokens))
    results: list[tuple[int, dict]] = []

    def post(body: bytes, token: str) -> None:
        try:
            barrier.wait()
            response = Client().post(
                INGEST_URL,
                data=body,
                content_type="application/json",
                HTTP_AUTHORIZATION=f"Bearer {token}",
            )
            results.append((response.status_code, response.json()))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=post, args=pair) for pair in bodies_and_tokens]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


@pytest.fixture(autouse=True)
def postgresql_only():
    if connection.vendor != "postgresql":
        pytest.skip("SQLite serializes writers; these races need PostgreSQL (set DATABASE_URL)")


@pytest.mark.django_db(transaction=True)
def test_four_threads_posting_the_same_batch_store_it_once():
    _, token = agent_create("racer")
    body = msgspec.json.encode(batch("race-1", gpu_samples=2000))
    results = _post_at_once([(body, token)] * 4)
    assert [status for status, _ in results] == [200] * 4
    assert {msgspec.json.encode(r["accepted"]) for _, r in results} == {
        b'{"gpu_samples":2000,"inference_samples":1}'
    }
    assert sorted(r["duplicate"] for _, r in results) == [False, True, True, True]
    assert GpuSample.objects.count() == 2000
    assert IngestBatch.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_agents_racing_for_a_new_node_one_owns_it_and_the_others_are_told():
    tokens = [agent_create(f"agent-{i}")[1] for i in range(3)]
    body = msgspec.json.encode(batch("same-inventory"))
    results = _post_at_once([(body, token) for token in tokens])
    assert sorted(status for status, _ in results) == [200, 400, 400]
    refused = [r for status, r in results if status == 400]
    assert all("reported by another agent" in r["errors"][0]["message"] for r in refused)
    assert GpuSample.objects.count() == 4


@pytest.mark.django_db(transaction=True)
def test_batches_creating_the_same_gpus_in_opposite_orders_do_not_deadlock():
    _, token = agent_create("one-agent")
    bodies = []
    for name, reverse in (("forward", False), ("backward", True)):
        body = batch(name, gpu_samples=0)
        body["inventory"] = inventory(gpus=600)
        body["inventory"]["gpus"].sort(key=lambda g: g["uuid"], reverse=reverse)
        bodies.append((msgspec.json.encode(body), token))
    for _ in range(3):
        results = _post_at_once(bodies)
        assert [status for status, _ in results] == [200, 200], results
        Gpu.objects.all().delete()
