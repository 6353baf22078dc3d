"""A job's and a capability's stored JSON as typed records: checked once when a
service writes them, decoded once when a page reads them."""

import logging

import msgspec
import pytest
from django.test import Client

from collectors.models import Node
from collectors.services import agent_create
from inferscope.lib.stored import dump, load
from profiling.models import ProfilingCapability, ProfilingJob, ProfilingResult
from profiling.records import (
    Capability,
    CapabilityDevice,
    DeviceRecord,
    ModelRecord,
    Peak,
    PeakTflops,
    SpecSummary,
)
from profiling.services import ProfilingError, capability_report, run_import

SPEC = {"preset": "tiny", "batch_sizes": [1], "prompt_lens": [128], "gen_lens": [33]}
DEVICE = {
    "type": "cuda",
    "name": "NVIDIA H100 80GB HBM3",
    "memory_bytes": 80 * 2**30,
    "torch": "2.5.1",
    "cuda": "12.4",
    "peak": {"tflops": {"bf16": 989.0}, "gb_per_s": 3350.0, "source": "datasheet"},
}
POINT = {
    "index": 0, "batch_size": 1, "prompt_len": 128, "gen_len": 33, "dtype": "bf16",
    "quant": "none", "attention": "auto", "compile": False, "status": "ok", "ttft_ms": 20.0,
}  # fmt: skip


@pytest.fixture
def agent():  # type: ignore[no-untyped-def]
    agent, token = agent_create("gpu-1-agent")
    Node.objects.create(name="gpu-1", agent=agent)
    agent.token = token
    return agent


def test_a_device_round_trips_and_keeps_only_what_was_reported() -> None:
    stored = dump(DEVICE, DeviceRecord)
    assert stored == DEVICE  # nothing added: the stored object is the runner's
    record = load(stored, DeviceRecord, "device")
    assert record == DeviceRecord(
        type="cuda",
        name="NVIDIA H100 80GB HBM3",
        memory_bytes=80 * 2**30,
        torch="2.5.1",
        cuda="12.4",
        peak=Peak(PeakTflops(bf16=989.0), 3350.0, "datasheet"),
    )
    assert msgspec.to_builtins(record) == DEVICE


def test_model_spec_and_capability_round_trip() -> None:
    model = {"name": "1b", "kind": "preset", "params": 1_235_814_400, "layers": 16}
    assert load(dump(model, ModelRecord), ModelRecord, "model") == ModelRecord(
        "1b", "preset", 1_235_814_400, 16
    )
    spec = load(SPEC, SpecSummary, "spec")
    assert spec == SpecSummary(preset="tiny", batch_sizes=[1], prompt_lens=[128], gen_lens=[33])
    allowed = {"presets": ["tiny"], "model_paths": [], "devices": [{"index": 0, "name": "A"}]}
    capability = load(dump(allowed, Capability), Capability, "capability")
    assert capability == Capability(["tiny"], [], [CapabilityDevice(0, "A")])
    assert capability.gpus == [("A", None)]


def test_old_rows_load_with_defaults_and_junk_is_none(caplog: pytest.LogCaptureFixture) -> None:
    assert load({}, DeviceRecord, "device") == DeviceRecord()
    assert load({"preset": "1b"}, SpecSummary, "spec") == SpecSummary(preset="1b")
    # A count stored as a string of digits (before reports were checked) still reads.
    assert load({"memory_bytes": "85899345920"}, DeviceRecord, "d") == DeviceRecord(
        memory_bytes=80 * 2**30
    )
    with caplog.at_level(logging.WARNING):
        assert load({"params": "1.2B"}, ModelRecord, "model of profiling job 3") is None
        assert load(["x"], DeviceRecord, "device") is None
    assert "unreadable model of profiling job 3" in caplog.text


@pytest.mark.django_db
def test_a_run_with_a_device_of_the_wrong_shape_is_refused_and_nothing_stored(agent) -> None:  # type: ignore[no-untyped-def]
    run = {"spec": SPEC, "device": {**DEVICE, "type": "tpu"}, "points": [POINT]}
    with pytest.raises(ProfilingError) as caught:
        run_import(agent, "gpu-1", run)
    assert caught.value.errors[0]["field"] == "run.device.type"
    assert not ProfilingJob.objects.exists() and not ProfilingResult.objects.exists()


@pytest.mark.django_db
def test_a_capability_of_the_wrong_shape_is_refused(agent) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ProfilingError) as caught:
        capability_report(agent, "gpu-1", {"presets": ["tiny"], "devices": [{"index": "one"}]})
    assert caught.value.errors[0]["field"] == "capabilities.devices.0.index"
    assert not ProfilingCapability.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"points": [{**POINT, "batch_size": "big"}]}, "run.points.0.batch_size"),
        ({"points": [{**POINT, "ttft_ms": -1}]}, "run.points.0.ttft_ms"),
        ({"device": {**DEVICE, "memory_bytes": "80GB"}}, "run.device.memory_bytes"),
    ],
)
def test_a_malformed_sweep_posted_to_the_api_is_a_400_with_the_field(agent, change, field) -> None:  # type: ignore[no-untyped-def]
    body = {"node": "gpu-1", "run": {"spec": SPEC, "device": DEVICE, "points": [POINT], **change}}
    answer = Client().post(
        "/api/v1/profiling/runs",
        body,
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {agent.token}",
    )
    assert answer.status_code == 400, answer.content
    errors = {e["field"]: e["message"] for e in answer.json()["errors"]}
    assert field in errors and errors[field], errors
    assert not ProfilingJob.objects.exists() and not ProfilingResult.objects.exists()


@pytest.mark.django_db
def test_a_well_formed_run_is_stored_as_reported(agent) -> None:  # type: ignore[no-untyped-def]
    body = {"node": "gpu-1", "run": {"spec": SPEC, "device": DEVICE, "points": [POINT]}}
    answer = Client().post(
        "/api/v1/profiling/runs",
        body,
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {agent.token}",
    )
    assert answer.status_code == 201, answer.content
    job = ProfilingJob.objects.get()
    assert job.device == DEVICE and job.device_record() == load(DEVICE, DeviceRecord, "d")
    assert job.results.get().batch_size == 1
