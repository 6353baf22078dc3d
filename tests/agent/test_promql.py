"""The Prometheus source against a real Prometheus server (Debian's package),
started on a loopback port, scraping an exporter this test serves."""

import http.server
import shutil
import subprocess
import threading
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

import msgspec
import pytest
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from collectors.agent.promql import PrometheusCollector
from collectors.agent.sources import Collection
from collectors.schema import GpuSampleIn, InferenceSampleIn
from tests.core.processes import free_port

# A real Prometheus server (and the exporters it scrapes) runs for these tests.
pytestmark = pytest.mark.slow

PROMETHEUS = shutil.which("prometheus")
GPU0 = 'gpu="0",UUID="GPU-aaa",modelName="NVIDIA H100 80GB HBM3",Hostname="gpu-node-1"'
GPU1 = 'gpu="1",UUID="GPU-bbb",modelName="NVIDIA H100 80GB HBM3",Hostname="gpu-node-1"'
# dcgm-exporter's page for two GPUs (its default counters; the second GPU is idle).
DCGM = "".join(
    f"# TYPE {name} {kind}\n" + "".join(f"{name}{{{gpu}}} {value}\n" for gpu, value in values)
    for name, kind, values in (
        ("DCGM_FI_DEV_GPU_UTIL", "gauge", [(GPU0, 87), (GPU1, 0)]),
        ("DCGM_FI_DEV_FB_USED", "gauge", [(GPU0, 72000), (GPU1, 0)]),
        ("DCGM_FI_DEV_FB_FREE", "gauge", [(GPU0, 9000), (GPU1, 81000)]),
        ("DCGM_FI_DEV_POWER_USAGE", "gauge", [(GPU0, 612.5)]),
        ("DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION", "counter", [(GPU0, 123456789)]),
        ("DCGM_FI_DEV_SM_CLOCK", "gauge", [(GPU0, 1980)]),
    )
)


FIXTURES = Path(__file__).parent / "fixtures"
# Other pages on other paths, each its own scrape job: a MIG node's dcgm-exporter,
# nvidia_gpu_exporter, trtllm-serve and a Triton with two models (t0 first, t1 after).
PAGES = {"/mig": "dcgm_mig", "/smi": "nvidia_smi", "/trtllm": "trtllm", "/triton": "triton"}


class Exporter:
    """dcgm-exporter's page plus a vLLM server's, growing with every scrape."""

    def __init__(self) -> None:
        registry = CollectorRegistry()
        exporter = self
        self.advanced = False  # the fixture pages: t0 until the test moves them on
        labels = ["model_name", "engine"]
        prompt = Counter("vllm:prompt_tokens", "", labels, registry=registry)
        running = Gauge("vllm:num_requests_running", "", labels, registry=registry)
        ttft = Histogram(
            "vllm:time_to_first_token_seconds",
            "",
            labels,
            buckets=[0.1, 0.5, 1.0],
            registry=registry,
        )

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                if self.path in PAGES:
                    name = f"{PAGES[self.path]}_t{int(exporter.advanced)}.txt"
                    self.send_response(200)
                    self.send_header("Content-Type", "text/plain; version=0.0.4")
                    self.end_headers()
                    self.wfile.write((FIXTURES / name).read_bytes())
                    return
                prompt.labels("llama-8b", "0").inc(1000)
                running.labels("llama-8b", "0").set(7)
                ttft.labels("llama-8b", "0").observe(0.2)
                body = generate_latest(registry) + DCGM.encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; version=0.0.4")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()


@pytest.fixture
def prometheus(tmp_path):
    if PROMETHEUS is None:
        pytest.skip("Prometheus is not installed (apt-get install prometheus; .ci/run does)")
    exporter = Exporter()
    port = free_port()
    config = tmp_path / "prometheus.yml"
    config.write_text(
        "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
        "scrape_configs:\n"
        "  - job_name: chat\n"
        f"    static_configs: [{{targets: ['127.0.0.1:{exporter.port}']}}]\n"
        + "".join(
            f"  - job_name: {path[1:]}\n    metrics_path: {path}\n"
            f"    static_configs: [{{targets: ['127.0.0.1:{exporter.port}']}}]\n"
            for path in PAGES
        )
    )
    process = subprocess.Popen(
        [
            PROMETHEUS,
            f"--config.file={config}",
            f"--storage.tsdb.path={tmp_path / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--log.level=warn",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                # Every job scraped at least once, the fixture pages included.
                query = f"{url}/api/v1/query?query=count(up%3D%3D1)"
                answer = urllib.request.urlopen(query, timeout=2).read()
                if f'"{1 + len(PAGES)}"'.encode() in answer:
                    break
            except OSError:
                pass
            time.sleep(0.3)
        else:
            raise AssertionError("Prometheus never scraped the exporter")
        yield url, exporter
    finally:
        process.terminate()
        process.wait(timeout=20)
        exporter.httpd.shutdown()


def test_gpus_and_servers_are_read_with_promql(prometheus):
    url, exporter = prometheus
    source = PrometheusCollector(url, interval_s=1.0)
    first = Collection()
    source.collect(datetime.now(UTC), first)
    time.sleep(2.5)  # two more scrapes
    second = Collection()
    source.collect(datetime.now(UTC), second)

    gpus = {g["uuid"]: g for g in second.gpus.values()}
    assert gpus["GPU-aaa"] == {
        "uuid": "GPU-aaa",
        "node": "gpu-node-1",
        "model": "NVIDIA H100 80GB HBM3",
        "index": 0,
        "memory_total_bytes": 81000 * 2**20,
    }
    sample = next(s for s in second.gpu_samples if s["gpu"] == "GPU-aaa")
    assert sample["util_gpu"] == 87 and sample["mem_used_bytes"] == 72000 * 2**20
    assert sample["power_w"] == 612.5 and sample["energy_j"] == pytest.approx(123456.789)
    assert sample["sm_clock_mhz"] == 1980 and "temp_c" not in sample  # not exported: null
    for gpu_sample in second.gpu_samples:
        msgspec.convert(gpu_sample, GpuSampleIn)

    assert first.inference_samples == []  # the first read is the baseline
    [inference] = [s for s in second.inference_samples if s["deployment"].startswith("chat:")]
    assert inference["deployment"] == f"chat:{exporter.port}"
    assert inference["prompt_tokens"] >= 2000 and inference["prompt_tokens"] % 1000 == 0
    assert inference["running"] == 7
    assert sum(inference["ttft_hist"]["counts"]) == inference["prompt_tokens"] // 1000
    assert second.deployments[("127.0.0.1", f"chat:{exporter.port}")]["model"] == "llama-8b"
    msgspec.convert(inference, InferenceSampleIn)


def test_mig_nvidia_smi_and_trtllm_through_promql(prometheus):
    url, exporter = prometheus
    source = PrometheusCollector(url, interval_s=1.0)
    source.collect(datetime.now(UTC), Collection())
    exporter.advanced = True
    time.sleep(2.5)
    into = Collection()
    source.collect(datetime.now(UTC), into)
    for sample in into.gpu_samples:
        msgspec.convert(sample, GpuSampleIn)
    a100 = "GPU-6c1e9b42-0a7d-3f58-92e4-d85b17ac3f60"
    mig = {u: g for u, g in into.gpus.items() if u.startswith(a100)}
    profiles = sorted(g["mig_profile"] for g in mig.values())
    assert profiles == ["1g.10gb", "2g.20gb", "3g.40gb", "unallocated"]
    assert a100 not in into.gpus  # billed through its instances only
    assert {g["node"] for g in mig.values()} == {"gpu-a100-mig-01"}
    instance = next(s for s in into.gpu_samples if s["gpu"] == f"{a100}/mig-2")
    assert instance["util_gpu"] == pytest.approx(instance["gr_engine_active"] * 100)
    smi = into.gpus["GPU-3f8a2c71-9d4e-5b60-a1c8-7e2f94d05b13"]
    assert smi["node"] == "127.0.0.1" and smi["model"] == "NVIDIA H100 80GB HBM3"
    deployment = into.deployments[("127.0.0.1", f"trtllm:{exporter.port}")]
    assert deployment["server"] == "trtllm" and deployment["model"] == ""
    [trt] = [s for s in into.inference_samples if s["deployment"] == f"trtllm:{exporter.port}"]
    assert trt["requests_ok"] == (185 - 173) + (1324 - 1279)
    assert trt["prefix_cache_hits"] == 315520 - 304512
    msgspec.convert(trt, InferenceSampleIn)
    # Triton: one deployment per model, so an ensemble's steps are not added up.
    triton = {
        s["deployment"]: s for s in into.inference_samples if s["deployment"].startswith("triton:")
    }
    port = exporter.port
    assert set(triton) == {f"triton:{port}/llama", f"triton:{port}/embedder"}
    assert triton[f"triton:{port}/llama"]["requests_ok"] == 30
    embedder = triton[f"triton:{port}/embedder"]
    assert (embedder["batch_inferences"], embedder["batch_executions"]) == (600, 80)
    assert into.deployments[("127.0.0.1", f"triton:{port}/llama")]["model"] == "llama"


def test_an_unreachable_prometheus_is_reported_and_skipped(caplog):
    source = PrometheusCollector(f"http://127.0.0.1:{free_port()}", interval_s=1.0)
    into = Collection()
    source.collect(datetime.now(UTC), into)
    source.collect(datetime.now(UTC), into)
    assert into.size == 0
    assert caplog.text.count("cannot query Prometheus") == 1
