"""GPU exporters -> GpuSamples: dcgm-exporter (default and profiling counters, MIG,
blank sentinels) and nvidia_gpu_exporter, from pages in their published formats."""

import http.server
import logging
import threading
from datetime import UTC, datetime
from pathlib import Path

import msgspec
import pytest

from collectors.agent.config import ConfigError, SourceSpec
from collectors.agent.exporters import DCGM, NVIDIA_SMI, ExporterReader, is_blank, mig_fraction
from collectors.agent.scrape import SeriesCache
from collectors.agent.sources import Collection, ExporterCollector
from collectors.schema import GpuIn, GpuSampleIn

FIXTURES = Path(__file__).parent / "fixtures"
TS = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
H100_0 = "GPU-3f8a2c71-9d4e-5b60-a1c8-7e2f94d05b13"
H100_1 = "GPU-b7c19e04-62fa-d83b-4e95-0c1a7d6f28e9"
A100 = "GPU-6c1e9b42-0a7d-3f58-92e4-d85b17ac3f60"


def series(text: str) -> list:
    return [(n, dict(lbl), v) for _, _, n, lbl, v in SeriesCache().samples(text)]


def read(exporter, *names: str, reader: ExporterReader | None = None):
    reader = reader or ExporterReader(exporter, "test")
    out = None
    for name in names:
        text = (FIXTURES / f"{name}.txt").read_text()
        out = reader.read(series(text), TS, lambda labels: labels.get("Hostname", "node-x"))
    gpus, samples = out
    for gpu in gpus:
        msgspec.convert(gpu, GpuIn)
    for sample in samples:
        msgspec.convert(sample, GpuSampleIn)  # what the agent sends must be valid
    return {g["uuid"]: g for g in gpus}, {s["gpu"]: s for s in samples}


def test_dcgm_default_and_profiling_counters():
    gpus, samples = read(DCGM, "dcgm_t0")
    assert gpus[H100_0] == {
        "uuid": H100_0,
        "node": "gpu-h100-node-03",
        "model": "NVIDIA H100 80GB HBM3",
        "index": 0,
        "memory_total_bytes": samples[H100_0]["mem_total_bytes"],
    }
    first = samples[H100_0]
    assert 0 <= first["util_gpu"] <= 100 and first["sm_clock_mhz"] > 0
    assert first["mem_total_bytes"] == (75824 + 5183 + 551) * 2**20  # used + free + reserved
    assert first["energy_j"] > 1e6  # the mJ counter, read under its _total name too
    for field in ("gr_engine_active", "tensor_active", "dram_active"):
        assert 0 <= first[field] <= 1, field
    assert first["pcie_rx_bytes_s"] > 0
    assert "throttle_reasons" not in first  # not exported: null, never 0


def test_dcgm_blank_sentinels_are_missing_never_data(caplog):
    reader = ExporterReader(DCGM, "test")
    with caplog.at_level(logging.INFO):
        _, samples = read(DCGM, "dcgm_t0", "dcgm_t1", "dcgm_t1", reader=reader)
    # GPU 1's DRAM activity is DCGM_FP64_BLANK in the second page: left out.
    assert "dram_active" not in samples[H100_1]
    assert "dram_active" in samples[H100_0]
    blank = [r for r in caplog.records if "DCGM_FI_PROF_DRAM_ACTIVE" in r.getMessage()]
    assert len(blank) == 1  # said once, not every interval


@pytest.mark.parametrize(
    "value",
    [9223372036854775794, 9223372036854775792.0, 2147483632, 2147483635, 140737488355328.0],
)
def test_every_dcgm_blank_value_is_recognised(value):
    assert is_blank(value)
    page = (
        "# TYPE DCGM_FI_DEV_GPU_TEMP gauge\n"
        f'DCGM_FI_DEV_GPU_TEMP{{gpu="0",UUID="GPU-x",modelName="H100"}} {value}\n'
        "# TYPE DCGM_FI_DEV_POWER_USAGE gauge\n"
        'DCGM_FI_DEV_POWER_USAGE{gpu="0",UUID="GPU-x",modelName="H100"} 300.5\n'
    )
    _, [sample] = ExporterReader(DCGM, "t").read(series(page), TS, lambda _: "n")
    assert "temp_c" not in sample and sample["power_w"] == 300.5


def test_real_values_near_the_sentinels_are_data():
    for value in (0, 2147483631, 2147483636, 1e12, 140737488355327.0):
        assert not is_blank(value), value


def test_mig_gives_one_sample_per_instance_with_graphics_engine_utilization():
    gpus, samples = read(DCGM, "dcgm_mig_t0", "dcgm_mig_t1")
    # No sample for the GPU as well: it is billed through its instances, and the
    # slice no instance holds (7 - 3 - 2 - 1) is a device of its own.
    assert set(gpus) == {f"{A100}/mig-{gi}" for gi in (2, 3, 9, "free")}
    three = gpus[f"{A100}/mig-2"]
    assert three["mig_profile"] == "3g.40gb"
    assert three["gpu_fraction"] == pytest.approx(3 / 7)
    assert three["util_from"] == "graphics_engine"
    assert three["model"] == "NVIDIA A100-SXM4-80GB"  # the GPU's model: its price list entry
    sample = samples[f"{A100}/mig-2"]
    assert sample["util_gpu"] == pytest.approx(sample["gr_engine_active"] * 100)
    # The GPU's power is repeated on each instance's series: each gets its share.
    shares = [samples[f"{A100}/mig-{gi}"]["power_w"] for gi in (2, 3, 9, "free")]
    assert shares[0] / shares[2] == pytest.approx(3)
    # The instances and the free slice add up to the GPU: its power, energy and price.
    gpu_power = next(
        v
        for n, lbl, v in series((FIXTURES / "dcgm_mig_t1.txt").read_text())
        if n == "DCGM_FI_DEV_POWER_USAGE"
    )
    assert sum(shares) == pytest.approx(gpu_power)
    assert sum(g["gpu_fraction"] for g in gpus.values()) == pytest.approx(1.0)
    free = gpus[f"{A100}/mig-free"]
    assert (free["mig_profile"], free["gpu_fraction"]) == ("unallocated", pytest.approx(1 / 7))
    assert set(samples[f"{A100}/mig-free"]) == {"gpu", "ts", "power_w", "energy_j"}


def test_mig_slices_of_a_profile_and_of_an_a30():
    assert mig_fraction("1g.10gb", "NVIDIA A100-SXM4-80GB", 3) == pytest.approx(1 / 7)
    assert mig_fraction("2g.12gb", "NVIDIA A30", 2) == pytest.approx(2 / 4)
    assert mig_fraction("custom", "NVIDIA H100", 4) == pytest.approx(1 / 4)


def test_nvidia_smi_exporter():
    gpus, samples = read(NVIDIA_SMI, "nvidia_smi_t0", "nvidia_smi_t1")
    # Its uuid label drops NVML's "GPU-": put back, it is the same GPU NVML names.
    assert set(gpus) == {H100_0, H100_1}
    gpu = gpus[H100_0]
    assert (gpu["model"], gpu["index"]) == ("NVIDIA H100 80GB HBM3", 0)
    sample = samples[H100_0]
    assert sample["util_gpu"] == pytest.approx(98.0)  # a ratio, as percent
    assert sample["sm_clock_mhz"] == 1980  # Hz, as MHz
    assert sample["mem_total_bytes"] == gpu["memory_total_bytes"] > 80 * 10**9
    assert sample["power_limit_w"] == 700.0
    assert "energy_j" not in sample  # nvidia-smi has none: null
    assert NVIDIA_SMI.missing["energy_j"]


def test_a_field_the_exporter_lacks_is_reported_once(caplog):
    reader = ExporterReader(NVIDIA_SMI, "http://node:9835/metrics")
    with caplog.at_level(logging.WARNING):
        for _ in range(3):
            read(NVIDIA_SMI, "nvidia_smi_t0", reader=reader)
    lines = [r.getMessage() for r in caplog.records if "ecc_corrected" in r.getMessage()]
    assert lines == [
        "http://node:9835/metrics (nvidia_smi): exports none of"
        " nvidia_smi_ecc_errors_corrected_volatile_total; ecc_corrected will be empty"
    ]


def test_exporter_sources_parse_and_refuse_a_missing_url():
    spec = SourceSpec.parse("dcgm=http://node-7:9400/metrics")
    assert (spec.kind, spec.url) == ("dcgm", "http://node-7:9400/metrics")
    assert SourceSpec.parse("nvidia_smi=http://node-7:9835/metrics").kind == "nvidia_smi"
    with pytest.raises(ConfigError, match="dcgm needs an http"):
        SourceSpec.parse("dcgm")


@pytest.fixture
def exporter_page():
    text = (FIXTURES / "dcgm_t0.txt").read_bytes()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4")
            self.end_headers()
            self.wfile.write(text)

        def log_message(self, *args) -> None:
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/metrics"
    httpd.shutdown()


@pytest.mark.slow
def test_dcgm_exporter_scraped_directly_over_http(exporter_page):
    source = ExporterCollector(SourceSpec.parse(f"dcgm={exporter_page}"), node="node-local")
    into = Collection()
    source.collect(TS, into)
    # An exporter on this host reports this agent's node, whatever its Hostname label says.
    assert {g["node"] for g in into.gpus.values()} == {"node-local"}
    assert set(into.gpus) == {H100_0, H100_1}
    assert len(into.gpu_samples) == 2 and into.nodes == {"node-local": {"name": "node-local"}}


def test_a_remote_exporter_reports_its_own_node():
    source = ExporterCollector(SourceSpec.parse("dcgm=http://10.1.2.3:9400/metrics"), "me")
    assert source._node_of({"Hostname": "gpu-7"}) == "gpu-7"
    assert source._node_of({}) == "10.1.2.3"
