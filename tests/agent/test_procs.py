"""Matching a local inference server to its GPUs: real processes and /proc; only
NVML's list of processes per GPU stands in for the driver."""

import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import msgspec
import pynvml
import pytest

from collectors.agent import procs, sources
from collectors.agent.config import SourceSpec
from collectors.agent.nvml import NvmlSource
from collectors.agent.sources import Collection, ServerCollector
from collectors.schema import InferenceSampleIn
from tests.agent.nvml_fake import FakeDriver

pytestmark = pytest.mark.slow

# A "server" that serves /metrics and starts a worker child, as vLLM does: the
# worker, not the server, is the process NVML sees on the GPU.
SERVER = """
import http.server, pathlib, subprocess, sys
worker = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
print(worker.pid, flush=True)
page = pathlib.Path(sys.argv[2]).read_bytes()
class Metrics(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.end_headers()
        self.wfile.write(page)
http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), Metrics).serve_forever()
"""
FIXTURE = Path(__file__).parent / "fixtures" / "vllm_v1_t0.txt"


@pytest.fixture
def server_with_worker():
    from tests.core.processes import free_port

    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-c", SERVER, str(port), str(FIXTURE)], stdout=subprocess.PIPE, text=True
    )
    worker = int(process.stdout.readline())
    deadline = time.monotonic() + 10
    while procs.listening_pid(port) is None and time.monotonic() < deadline:
        time.sleep(0.05)
    yield port, process.pid, worker
    process.kill()
    subprocess.run(["kill", str(worker)], check=False)


def test_the_listening_process_and_its_children_are_found(server_with_worker):
    port, pid, worker = server_with_worker
    assert procs.listening_pid(port) == pid
    assert {pid, worker} <= procs.process_tree(pid)


def test_a_deployment_gets_the_gpus_its_worker_runs_on(server_with_worker, monkeypatch):
    port, _, worker = server_with_worker
    FakeDriver(monkeypatch)

    def processes(handle):
        process = pynvml.c_nvmlProcessInfo_t()
        process.pid = worker if handle == "h100" else 1  # the other GPU runs something else
        process.usedGpuMemory = 70 * 2**30
        return [process]

    monkeypatch.setattr(pynvml, "nvmlDeviceGetComputeRunningProcesses", processes)
    spec = SourceSpec("vllm", f"http://127.0.0.1:{port}/metrics", "chat-8b")
    collector = ServerCollector(spec, "gpu-node-1", nvml=NvmlSource())
    into = Collection()
    collector.collect(datetime.now(UTC), into)
    deployment = into.deployments[("gpu-node-1", "chat-8b")]
    assert deployment["gpus"] == ["GPU-h100-0000"]
    assert deployment["model"] == "meta-llama/Llama-3.1-8B-Instruct"


def test_a_remote_server_is_not_matched():
    collector = ServerCollector(SourceSpec("vllm", "http://10.1.2.3:8000/metrics", "x"), "n")
    assert collector._gpus() is None


GIB = 2**30


def gpu_processes(monkeypatch, per_device):
    """NVML's compute processes per device handle, as pynvml returns them (memory
    None where the driver reports "not available"); returns the devices read, in order."""
    FakeDriver(monkeypatch)
    reads = []

    def processes(handle):
        reads.append(handle)
        return [
            pynvml.nvmlFriendlyObject({"pid": pid, "usedGpuMemory": used})
            for pid, used in per_device.get(handle, [])
        ]

    monkeypatch.setattr(pynvml, "nvmlDeviceGetComputeRunningProcesses", processes)
    return reads


def collector_for(port):
    spec = SourceSpec("vllm", f"http://127.0.0.1:{port}/metrics", "chat-8b")
    return ServerCollector(spec, "gpu-node-1", nvml=NvmlSource())


def scrape(collector, times=2):
    """Collect `times` intervals 10 s apart: two scrapes make one inference sample."""
    into = Collection()
    start = datetime.now(UTC)
    for i in range(times):
        collector.collect(start + timedelta(seconds=10 * i), into)
    return into


def test_gpu_memory_is_summed_over_the_servers_process_tree(server_with_worker, monkeypatch):
    port, pid, worker = server_with_worker
    gpu_processes(
        monkeypatch,
        {"h100": [(pid, GIB // 2), (worker, 70 * GIB), (1, 5 * GIB)], "lite": [(1, 3 * GIB)]},
    )
    (sample,) = scrape(collector_for(port)).inference_samples
    assert sample["gpu_memory"] == {"GPU-h100-0000": 70 * GIB + GIB // 2}
    msgspec.convert(sample, InferenceSampleIn)


def test_a_gpu_whose_processes_report_no_memory_is_left_out(server_with_worker, monkeypatch):
    port, pid, worker = server_with_worker
    gpu_processes(monkeypatch, {"h100": [(worker, None)], "lite": [(pid, None), (worker, 2 * GIB)]})
    into = scrape(collector_for(port))
    assert into.deployments[("gpu-node-1", "chat-8b")]["gpus"] == ["GPU-h100-0000", "GPU-lite-0000"]
    (sample,) = into.inference_samples
    assert sample["gpu_memory"] == {"GPU-lite-0000": 2 * GIB}


def test_gpu_memory_is_omitted_when_the_servers_process_cannot_be_seen(
    server_with_worker, monkeypatch, tmp_path
):
    port, _, worker = server_with_worker
    gpu_processes(monkeypatch, {"h100": [(worker, 70 * GIB)]})
    # An agent without the host's process namespace sees none of the server's processes.
    monkeypatch.setattr(procs, "PROC", tmp_path)
    into = scrape(collector_for(port))
    assert "gpus" not in into.deployments[("gpu-node-1", "chat-8b")]
    (sample,) = into.inference_samples
    assert "gpu_memory" not in sample


def test_nvmls_process_list_is_read_at_most_once_per_recheck_period(
    server_with_worker, monkeypatch
):
    port, _, worker = server_with_worker
    per_device = {"h100": [(worker, 70 * GIB)]}
    reads = gpu_processes(monkeypatch, per_device)
    clock = [1000.0]
    monkeypatch.setattr(sources.time, "monotonic", lambda: clock[0])
    collector = collector_for(port)
    into = scrape(collector, times=5)
    assert reads == ["h100", "lite"]  # one list, read once, for all five intervals
    assert into.inference_samples[-1]["gpu_memory"] == {"GPU-h100-0000": 70 * GIB}

    per_device["h100"] = [(worker, 75 * GIB)]
    clock[0] += sources.GPU_RECHECK_S
    into = Collection()
    collector.collect(datetime.now(UTC) + timedelta(minutes=1), into)
    assert reads == ["h100", "lite"] * 2
    assert into.inference_samples[-1]["gpu_memory"] == {"GPU-h100-0000": 75 * GIB}
