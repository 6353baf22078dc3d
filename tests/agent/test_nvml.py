"""NVML field mapping, with pynvml's own return types. No GPU here, so the tests
stand in for the driver at the outermost edge: pynvml's functions."""

from datetime import UTC, datetime

import msgspec
import pynvml
import pytest

from collectors.agent.nvml import NvmlSource, NvmlUnavailable
from collectors.schema import GpuIn, GpuSampleIn
from tests.agent.nvml_fake import FakeDriver

TS = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


@pytest.fixture
def nvml(monkeypatch):
    FakeDriver(monkeypatch)
    source = NvmlSource()
    yield source
    source.close()


def test_every_field_is_read_and_converted_to_the_schema_units(nvml):
    h100 = nvml.samples(TS)[0]
    assert h100 == {
        "gpu": "GPU-h100-0000",
        "ts": TS,
        "util_gpu": 87.0,
        "util_mem": 41.0,
        "mem_used_bytes": 76_000_000_000,
        "mem_total_bytes": 85_520_809_984,
        "power_w": pytest.approx(612.345),
        "power_limit_w": pytest.approx(700.0),
        "energy_j": pytest.approx(123_456.789),
        "temp_c": 71.0,
        "sm_clock_mhz": 1980,
        "mem_clock_mhz": 2619,
        "throttle_reasons": 4,
        "pcie_rx_bytes_s": 256_000_000.0,
        "pcie_tx_bytes_s": 256_000_000.0,
        "ecc_corrected": 2,
        "ecc_uncorrected": 0,
    }
    msgspec.convert(h100, GpuSampleIn)


def test_an_unsupported_field_is_null_and_the_others_are_still_read(nvml):
    lite = nvml.samples(TS)[1]
    for field in ("power_w", "power_limit_w", "energy_j", "pcie_rx_bytes_s", "ecc_corrected"):
        assert lite[field] is None, field
    assert lite["util_gpu"] == 0.0 and lite["mem_total_bytes"] == 24_152_899_584
    assert lite["temp_c"] == 71.0 and lite["sm_clock_mhz"] == 1980
    msgspec.convert(lite, GpuSampleIn)


def test_inventory_and_processes_name_each_gpu(nvml):
    gpus = nvml.inventory("gpu-node-1")
    assert [g["model"] for g in gpus] == ["NVIDIA H100 80GB HBM3", "NVIDIA L4"]
    for gpu in gpus:
        msgspec.convert(gpu, GpuIn)
    assert nvml.processes() == {
        "GPU-h100-0000": [(4242, 75_000_000_000)],
        "GPU-lite-0000": [],
    }


def test_without_a_driver_it_says_so_in_one_line():
    # The real pynvml on this machine, which has no NVIDIA driver.
    try:
        source = NvmlSource()
    except NvmlUnavailable as exc:
        message = str(exc)
        assert "\n" not in message
        assert message.startswith("NVML is not available")
        assert message.endswith("no GPU telemetry")
    else:
        source.close()
        pytest.skip("this machine has an NVIDIA GPU")


def test_no_devices_is_reported_too(monkeypatch):
    monkeypatch.setattr(pynvml, "nvmlInit", lambda: None)
    monkeypatch.setattr(pynvml, "nvmlDeviceGetCount", lambda: 0)
    with pytest.raises(NvmlUnavailable, match="found no GPU"):
        NvmlSource()


def test_a_local_exporter_beside_nvml_is_not_scraped_twice(nvml, caplog):
    from collectors.agent.config import Config, SourceSpec
    from collectors.agent.main import build_sources
    from collectors.agent.sources import ExporterCollector, NvmlCollector

    config = Config(node="n1")
    config.sources = [
        SourceSpec.parse("nvml"),
        SourceSpec.parse("dcgm=http://127.0.0.1:9400/metrics"),
        SourceSpec.parse("dcgm=http://gpu-node-9:9400/metrics"),  # another node: kept
    ]
    sources = build_sources(config)
    assert [type(s) for s in sources] == [NvmlCollector, ExporterCollector]
    assert sources[1].spec.url == "http://gpu-node-9:9400/metrics"
    assert "http://127.0.0.1:9400/metrics reports this node's GPUs" in caplog.text
