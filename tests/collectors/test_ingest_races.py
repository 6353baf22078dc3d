"""Races between batches, made to happen every time: the first batch is held
inside a step of the ingest (its transaction open) while the second runs."""

import threading
import time
from datetime import timedelta

import msgspec
import pytest
from django.db import connection, connections
from django.test import Client

import collectors.ingest as ingest_module
import collectors.inventory as inventory_module
from collectors.models import Deployment, Gpu, GpuSample, Node
from collectors.services import agent_create
from tests.builders.ingest import INGEST_URL, batch, gpu_sample, now_utc

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def postgresql_only():
    if connection.vendor != "postgresql":
        pytest.skip("row locks and concurrent writers need PostgreSQL (set DATABASE_URL)")


def post(body: dict | bytes, token: str) -> int:
    try:
        data = body if isinstance(body, bytes) else msgspec.json.encode(body)
        response = Client(raise_request_exception=False).post(
            INGEST_URL,
            data=data,
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Bearer {token}",
        )
        return response.status_code
    finally:
        connections.close_all()


def race(monkeypatch, module, step: str, first: tuple, second: tuple) -> tuple[int, int]:
    """Hold `first` inside module.step until `second` has started and blocked."""
    gate = threading.Event()
    original = getattr(module, step)

    def held(*args, **kwargs):
        if threading.current_thread().name == "first":
            gate.wait(10)
        return original(*args, **kwargs)

    monkeypatch.setattr(module, step, held)
    results: dict[str, int] = {}
    threads = [
        threading.Thread(target=lambda: results.update(first=post(*first)), name="first"),
        threading.Thread(target=lambda: results.update(second=post(*second)), name="second"),
    ]
    threads[0].start()
    time.sleep(0.5)
    threads[1].start()
    time.sleep(1.0)
    gate.set()
    for thread in threads:
        thread.join(30)
    return results["first"], results["second"]


def seed(token: str) -> None:
    assert post(batch("seed", gpu_samples=0, inference_samples=[]), token) == 200


def test_two_batches_changing_a_deployments_gpus(monkeypatch):
    _, token = agent_create("a")
    seed(token)
    bodies = []
    for batch_id in ("x1", "x2"):
        body = batch(batch_id, gpu_samples=0, inference_samples=[])
        body["inventory"]["deployments"][0]["gpus"] = ["GPU-0000", "GPU-0001"]
        bodies.append((body, token))
    assert race(monkeypatch, ingest_module, "_write_gpu_samples", *bodies) == (200, 200)
    assert Deployment.objects.get().gpus.count() == 2


def test_two_agents_claiming_an_unowned_node(monkeypatch):
    _, old = agent_create("old")
    seed(old)
    Node.objects.update(agent=None)  # an admin hands the node over
    _, a = agent_create("new-a")
    _, b = agent_create("new-b")
    first, second = (batch("a", earlier_s=600), a), (batch("b", earlier_s=1200), b)
    assert race(monkeypatch, inventory_module, "_upsert_gpus", first, second) == (200, 400)
    assert Node.objects.get().agent.name == "new-a"
    assert GpuSample.objects.count() == 4


def test_one_agent_creating_a_gpu_on_two_nodes_at_once(monkeypatch):
    _, token = agent_create("a")
    one = batch("one", gpu_samples=0, inference_samples=[])
    one["inventory"]["gpus"].append({"uuid": "GPU-X", "node": "node-1"})
    two = batch("two", node="node-2", prefix="GPU-B", gpu_samples=0, inference_samples=[])
    two["inventory"]["gpus"].append({"uuid": "GPU-X", "node": "node-2"})
    two["inventory"]["deployments"][0]["gpus"] = ["GPU-X"]
    results = race(monkeypatch, inventory_module, "_upsert_deployments", (one, token), (two, token))
    assert results == (200, 200)
    # The later batch's view holds, and the deployment's GPU is on its node.
    assert Gpu.objects.get(uuid="GPU-X").node.name == "node-2"
    assert Deployment.objects.get(node__name="node-2").gpus.get().node.name == "node-2"


def test_overlapping_batches_in_opposite_orders_do_not_deadlock():
    _, token = agent_create("a")
    seed(token)
    for round_ in range(3):
        start = now_utc() - timedelta(hours=2 + round_)
        samples = [
            gpu_sample(f"GPU-{i % 2:04d}", start + timedelta(seconds=i // 2 * 0.5))
            for i in range(6000)
        ]
        bodies = []
        for name, reverse in (("forward", False), ("backward", True)):
            body = batch(f"{name}-{round_}", gpu_samples=0, inference_samples=[])
            body["gpu_samples"] = samples[::-1] if reverse else samples
            bodies.append(msgspec.json.encode(body))
        barrier = threading.Barrier(2)
        statuses: list[int] = []

        def send(body: bytes, barrier: threading.Barrier, statuses: list[int]) -> None:
            barrier.wait()
            statuses.append(post(body, token))

        threads = [threading.Thread(target=send, args=(body, barrier, statuses)) for body in bodies]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert statuses == [200, 200]
    assert GpuSample.objects.count() == 3 * 6000
