import threading

import msgspec
import pytest
from django.db import connection, connections
from django.test import Client

from collectors.models import GpuSample, IngestBatch
from collectors.services import agent_create
from tests.conftest import INGEST_URL, batch


@pytest.mark.django_db(transaction=True)
def test_two_threads_posting_the_same_batch_store_it_once():
    if connection.vendor != "postgresql":
        pytest.skip("SQLite serializes writers; the race needs PostgreSQL (set DATABASE_URL)")
    _, token = agent_create("racer")
    body = msgspec.json.encode(batch("race-1", gpu_samples=2000))
    barrier = threading.Barrier(4)
    results: list[tuple[int, dict]] = []

    def post() -> None:
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

    threads = [threading.Thread(target=post) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert [status for status, _ in results] == [200] * 4
    assert {msgspec.json.encode(r["accepted"]) for _, r in results} == {
        b'{"gpu_samples":2000,"inference_samples":1}'
    }
    assert sorted(r["duplicate"] for _, r in results) == [False, True, True, True]
    assert GpuSample.objects.count() == 2000
    assert IngestBatch.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_agents_creating_the_same_new_node_at_once_both_succeed():
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL (set DATABASE_URL)")
    tokens = [agent_create(f"agent-{i}")[1] for i in range(3)]
    barrier = threading.Barrier(3)
    statuses: list[int] = []

    def post(token: str) -> None:
        try:
            barrier.wait()
            response = Client().post(
                INGEST_URL,
                data=msgspec.json.encode(batch("same-inventory")),
                content_type="application/json",
                HTTP_AUTHORIZATION=f"Bearer {token}",
            )
            statuses.append(response.status_code)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=post, args=(t,)) for t in tokens]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert statuses == [200, 200, 200]
