"""Matching a local inference server to its GPUs: real processes and /proc; only
NVML's list of processes per GPU stands in for the driver."""

import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pynvml
import pytest

from collectors.agent import procs
from collectors.agent.config import SourceSpec
from collectors.agent.nvml import NvmlSource
from collectors.agent.sources import Collection, ServerCollector
from tests.agent.test_nvml import FakeDriver

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
    from tests.agent.test_no_loss import free_port

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
