"""The simulated fleet: what it generates, and how it shows once stored."""

from datetime import UTC, datetime

import msgspec
import pytest

from collectors.agent.simulated import GPUS, batch_body
from collectors.models import Deployment, GpuSample, InferenceSample, Node
from collectors.schema import decode_batch
from tests.builders.ingest import ingest_simulated

NOW = datetime(2026, 11, 25, 12, 0, 5, tzinfo=UTC)


@pytest.mark.django_db
def test_every_simulated_node_is_labelled():
    ingest_simulated()
    assert Node.objects.count() == 2
    assert all(node.simulated for node in Node.objects.all())
    assert "(simulated)" in str(Node.objects.first())


@pytest.mark.django_db
def test_the_fleet_has_busy_idle_held_and_truly_idle_gpus():
    ingest_simulated()
    held = Deployment.objects.get(name="summarize-7b")
    assert InferenceSample.objects.get(deployment=held).requests_ok == 0
    held_gpu = GpuSample.objects.get(gpu=held.gpus.get())
    assert held_gpu.util_gpu == 0 and held_gpu.mem_used_bytes > 40 * 2**30
    idle = GpuSample.objects.get(gpu__uuid="GPU-sim-b-3")
    assert idle.util_gpu == 0 and idle.mem_used_bytes < 2**30
    busy = GpuSample.objects.get(gpu__uuid="GPU-sim-a-0")
    assert busy.util_gpu > 10


def test_bodies_are_a_pure_function_of_time_and_valid():
    start = NOW.timestamp() - NOW.timestamp() % 10
    one = msgspec.json.encode(batch_body(start, start + 100, 10))
    two = msgspec.json.encode(batch_body(start, start + 100, 10))
    assert one == two
    parsed = decode_batch(one)
    assert len(parsed.gpu_samples) == 10 * len(GPUS)


def test_energy_counters_only_go_up():
    start = NOW.timestamp() - NOW.timestamp() % 10
    body = batch_body(start, start + 3600, 60)
    for gpu in GPUS:
        series = [s["energy_j"] for s in body["gpu_samples"] if s["gpu"] == gpu.uuid]
        assert series == sorted(series) and series[0] > 0


def _one_interval() -> dict:
    start = NOW.timestamp() - NOW.timestamp() % 10
    return batch_body(start, start + 10, 10)


def test_every_inference_sample_holds_memory_on_its_deployments_gpus_only():
    body = _one_interval()
    gpus = {g["uuid"]: g for g in body["inventory"]["gpus"]}
    deployments = {d["name"]: d for d in body["inventory"]["deployments"]}
    for sample in body["inference_samples"]:
        held = sample["gpu_memory"]
        assert set(held) == set(deployments[sample["deployment"]]["gpus"]), sample["deployment"]
        assert all(gpus[uuid]["node"] == sample["node"] for uuid in held)
        assert all(0 < used < gpus[uuid]["memory_total_bytes"] for uuid, used in held.items())


def test_a_shared_gpus_deployments_together_hold_less_than_its_memory():
    body = _one_interval()
    held: dict[str, list[int]] = {}
    for sample in body["inference_samples"]:
        for uuid, used in sample["gpu_memory"].items():
            held.setdefault(uuid, []).append(used)
    shared = [uuid for uuid, shares in held.items() if len(shares) > 1]
    assert shared, "the simulated fleet shares no GPU"
    for gpu in body["gpu_samples"]:
        total = sum(held.get(gpu["gpu"], []))
        assert total < gpu["mem_total_bytes"]
        # NVML's used memory is the servers' plus the driver's own context.
        assert 0 < gpu["mem_used_bytes"] - total < 2**30


@pytest.mark.django_db
def test_the_shared_gpus_memory_shares_are_stored():
    ingest_simulated()
    shared = "GPU-sim-b-0"
    stored = InferenceSample.objects.filter(deployment__gpus__uuid=shared)
    shares = {s.deployment.name: s.gpu_memory[shared] for s in stored.select_related("deployment")}
    assert set(shares) == {"embed-bge", "rerank-minilm"}
    assert shares["embed-bge"] > shares["rerank-minilm"] > 0
