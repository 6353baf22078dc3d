"""Profiling jobs end to end: the agent's worker against the real server on a live
port, running the real runner (tiny preset, CPU) in a subprocess."""

import http.server
import json
import logging
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from importlib import metadata
from pathlib import Path

import pytest

from collectors.agent.config import Config
from collectors.agent.profiling import (
    Outcome,
    capped,
    choose_gpus,
    refusal,
)
from collectors.models import Node
from profiling.choices import JobStatus
from profiling.models import ProfilingCapability, ProfilingJob, ProfilingResult
from profiling.services import job_cancel, job_claim, job_create
from tests.agent.nvml_fake import FakeDriver
from tests.agent.profiling_support import (
    LONG,
    NODE,
    ROOT,
    TINY,
    live,
    runner_gone,
    wait_for,
    worker_for,
)


@pytest.mark.slow
@live
def test_a_queued_job_is_picked_up_run_and_its_points_stored(live_server, token):
    worker = worker_for(live_server.url, token)
    assert worker.poll_once() == Outcome("idle")
    capability = ProfilingCapability.objects.get(node__name=NODE)
    assert capability.presets == ["tiny"] and capability.max_time_limit_s == 1800
    assert capability.torch_version == metadata.version("torch")
    assert capability.devices == []  # no GPU here: NVML cannot load
    job = job_create(node=Node.objects.get(name=NODE), spec=TINY)

    assert worker.poll_once() == Outcome("done", job.pk)
    job.refresh_from_db()
    assert (job.status, job.error, job.points_total, job.points_done) == ("done", "", 2, 2)
    assert job.device["type"] == "cpu" and job.model_info["params"] > 0
    rows = ProfilingResult.objects.filter(job=job).order_by("index")
    assert [(r.index, r.batch_size, r.prompt_len, r.gen_len) for r in rows] == [
        (0, 1, 8, 4),
        (1, 2, 8, 4),
    ]
    assert all(r.status == "ok" and r.decode_tokens_per_s > 0 for r in rows)
    assert runner_gone(worker.process)
    assert worker.poll_once() == Outcome("idle")


def test_the_gpus_reported_come_from_nvml_when_it_loads(monkeypatch):
    FakeDriver(monkeypatch)  # no GPU here: pynvml's functions are the edge
    worker = worker_for("http://127.0.0.1:9", "isa_x")
    h100 = {"index": 0, "uuid": "GPU-h100-0000", "name": "NVIDIA H100 80GB HBM3"}
    l4 = {"index": 1, "uuid": "GPU-lite-0000", "name": "NVIDIA L4"}
    h100["memory_bytes"], l4["memory_bytes"] = 85_520_809_984, 24_152_899_584
    capabilities = worker.capabilities()
    assert capabilities["devices"] == [h100, l4]
    assert capabilities["memory_limit_bytes"] is None
    # All of them: the runner sees what the agent sees.
    assert worker.runner_env().get("CUDA_VISIBLE_DEVICES") == os.environ.get("CUDA_VISIBLE_DEVICES")
    devices = [h100, l4]
    assert choose_gpus(devices, []) == devices
    assert choose_gpus(devices, ["GPU-lite-0000", "0"]) == [l4, h100]  # the first is used
    with pytest.raises(ValueError, match=r"GPU '2' is not on this node \(GPUs: 0 \(GPU-h100"):
        choose_gpus(devices, ["1", "2"])


@live
def test_a_preset_the_node_does_not_allow_is_refused_here_and_reported_failed(live_server, token):
    worker_for(live_server.url, token, presets=("tiny", "125m")).poll_once()
    job = job_create(node=Node.objects.get(name=NODE), spec={**TINY, "preset": "125m"})
    narrower = worker_for(live_server.url, token, presets=("tiny",))

    outcome = narrower.poll_once()
    message = "preset '125m' is not allowed on this node (allowed: tiny)"
    assert outcome == Outcome("failed", job.pk, message)
    assert narrower.process is None  # nothing was started
    job.refresh_from_db()
    assert (job.status, job.error) == ("failed", message)
    assert ProfilingCapability.objects.get(node__name=NODE).presets == ["tiny"]


def test_model_paths_must_be_inside_an_allowed_path_as_written_and_resolved(tmp_path):
    models, outside = tmp_path / "models", tmp_path / "elsewhere"
    models.mkdir()
    outside.mkdir()
    (models / "escape").symlink_to(outside)
    config = Config(profiling_model_paths=[str(models), "/srv/one.pt"])
    spec = {**TINY, "preset": ""}
    assert refusal({**spec, "model_path": f"{models}/llama"}, config) == ""
    assert refusal({**spec, "model_path": "/srv/one.pt"}, config) == ""
    for path in (
        f"{models}/../elsewhere/llama",
        f"{models}-2/llama",
        f"{models}/escape/llama",
        "/srv/one.pt2",
    ):
        assert "is not inside a path this node allows" in refusal(
            {**spec, "model_path": path}, config
        ), path
    assert refusal(TINY, config).startswith("preset 'tiny' is not allowed")
    assert refusal({**TINY, "batch_sizes": [0]}, config).startswith("invalid spec: batch_sizes")


@pytest.mark.slow
@live
def test_the_time_limit_kills_the_runner_and_fails_the_job_saying_so(live_server, token):
    worker = worker_for(live_server.url, token)
    worker.poll_once()
    job = job_create(node=Node.objects.get(name=NODE), spec=LONG, time_limit_s=2)

    started = time.monotonic()
    outcome = worker.poll_once()
    assert time.monotonic() - started < 8
    assert outcome.status == "failed"
    assert re.fullmatch(r"time limit of 2 s reached after \d+ of 128 points", outcome.error)
    job.refresh_from_db()
    assert (job.status, job.error) == ("failed", outcome.error)
    assert runner_gone(worker.process)


@pytest.mark.slow
@live
def test_the_nodes_own_limit_caps_a_longer_job_limit(live_server, token):
    worker = worker_for(live_server.url, token)
    worker.poll_once()
    job_create(node=Node.objects.get(name=NODE), spec=LONG, time_limit_s=1800)
    job = job_claim(Node.objects.get(name=NODE).agent, NODE)
    assert job is not None
    worker.config.profiling_max_time_s = 1.5  # below what the CLI accepts, for speed

    outcome = worker.run_job({"id": job.pk, "spec": job.spec, "time_limit_s": 1800})
    assert outcome.error.startswith("time limit of 1.5 s reached")
    assert ProfilingJob.objects.get(pk=job.pk).status == JobStatus.FAILED


@pytest.mark.slow
@live
def test_cancelling_on_the_server_stops_the_runner(live_server, token):
    worker = worker_for(live_server.url, token)
    worker.report_every_s = 0.5
    worker.poll_once()
    job = job_create(node=Node.objects.get(name=NODE), spec=LONG)
    outcomes: list[Outcome] = []
    thread = threading.Thread(target=lambda: outcomes.append(worker.poll_once()))
    thread.start()
    try:
        # Points arrive while the sweep runs, before it ends.
        wait_for(lambda: ProfilingResult.objects.filter(job=job).exists())
        assert job_cancel(job)
        thread.join(timeout=15)
    finally:
        worker.stop.set()  # should the test fail, the runner goes anyway
        thread.join(timeout=15)
    assert outcomes == [Outcome("cancelled", job.pk)]
    job.refresh_from_db()
    assert job.status == "cancelled" and job.points_done < 128
    assert runner_gone(worker.process)


class FlakyProxy:
    """Answers 503 to the first `failures` reports, then passes requests to the server."""

    def __init__(self, target: str, failures: int) -> None:
        self.seen: list[str] = []

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                proxy.seen.append(self.path)
                body = self.rfile.read(int(self.headers["Content-Length"]))
                reports = [p for p in proxy.seen if p.endswith("/report")]
                if self.path.endswith("/report") and len(reports) <= failures:
                    status, answer = 503, b"busy"
                else:
                    headers = {k: self.headers[k] for k in ("Authorization", "Content-Type")}
                    request = urllib.request.Request(target + self.path, body, headers)
                    with urllib.request.urlopen(request, timeout=5) as response:
                        status, answer = response.status, response.read()
                self.send_response(status)
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args) -> None:
                pass

        proxy = self
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()


@pytest.mark.slow
@live
def test_a_report_that_meets_server_errors_is_retried_until_it_gets_there(live_server, token):
    worker_for(live_server.url, token, presets=("tiny", "125m")).poll_once()
    job = job_create(node=Node.objects.get(name=NODE), spec={**TINY, "preset": "125m"})
    proxy = FlakyProxy(live_server.url, failures=2)
    try:
        outcome = worker_for(proxy.url, token).poll_once()
    finally:
        proxy.httpd.shutdown()
    assert outcome.status == "failed"
    assert [p.rsplit("/", 1)[-1] for p in proxy.seen] == ["poll", "report", "report", "report"]
    assert ProfilingJob.objects.get(pk=job.pk).status == JobStatus.FAILED


def test_an_unreachable_server_is_logged_once_and_never_crashes_the_worker(caplog):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{s.getsockname()[1]}"
    worker = worker_for(closed, "isa_x")
    with caplog.at_level(logging.WARNING):
        assert [worker.poll_once().status for _ in range(3)] == ["error"] * 3
        assert worker.run_job({"id": 1, "spec": {**TINY, "preset": "7b"}}).status == "failed"
    assert caplog.text.count("profiling poll failed") == 1
    assert "cannot report" in caplog.text


@live
def test_a_config_with_profiling_off_never_polls(live_server, token):
    worker = worker_for(live_server.url, token, presets=())
    assert worker.poll_once() == Outcome("off")
    worker.start(threading.Event())
    assert worker._thread is None
    assert not ProfilingCapability.objects.exists()


@live
def test_without_torch_it_warns_once_and_never_polls(live_server, token, monkeypatch, caplog):
    version = metadata.version

    def without_torch(name: str) -> str:
        if name == "torch":
            raise metadata.PackageNotFoundError(name)
        return version(name)

    monkeypatch.setattr(metadata, "version", without_torch)
    with caplog.at_level(logging.WARNING):
        worker = worker_for(live_server.url, token)
        assert [worker.poll_once() for _ in range(2)] == [Outcome("off")] * 2
    assert caplog.text.count("torch is not installed") == 1
    assert not ProfilingCapability.objects.exists()


def runners_under(folder: Path) -> list[int]:
    """Live runner processes whose spec file lies in `folder`."""
    pids = []
    for entry in Path("/proc").iterdir():
        try:
            command = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if b"profiling.runner" in command and str(folder).encode() in command:
            pids.append(int(entry.name))
    return pids


@pytest.mark.slow
@live
def test_sigterm_stops_the_agent_kills_the_sweep_and_reports_it(live_server, token, tmp_path):
    agent = subprocess.Popen(
        [
            sys.executable, "-m", "collectors.agent.main", "--server-url", live_server.url,
            "--token", token, "--node", NODE, "--source", "simulated", "--interval", "5",
            "--spool-dir", str(tmp_path / "spool"), "--profiling-preset", "tiny",
            "--profiling-poll", "0.2",
        ],
        cwd=ROOT,
        env={**os.environ, "TMPDIR": str(tmp_path)},  # where the spec file goes
        stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    try:
        wait_for(lambda: ProfilingCapability.objects.filter(node__name=NODE).exists())
        job = job_create(node=Node.objects.get(name=NODE), spec=LONG)
        wait_for(lambda: bool(runners_under(tmp_path)))
        agent.send_signal(signal.SIGTERM)
        assert agent.wait(timeout=20) == 0, agent.stderr.read() if agent.stderr else ""
    finally:
        agent.kill()
        leftovers = runners_under(tmp_path)
        for pid in leftovers:
            os.kill(pid, signal.SIGKILL)
    assert leftovers == []
    job.refresh_from_db()
    assert (job.status, job.error) == ("failed", "agent stopped")


def test_the_nodes_memory_cap_lowers_or_sets_the_jobs_limit_never_raises_it():
    assert capped(TINY, None) == TINY
    assert capped(TINY, 2**30)["memory_limit_bytes"] == 2**30
    assert capped({**TINY, "memory_limit_bytes": 2**40}, 2**30)["memory_limit_bytes"] == 2**30
    assert capped({**TINY, "memory_limit_bytes": 2**25}, 2**30)["memory_limit_bytes"] == 2**25
    assert "memory_limit_bytes" not in TINY  # the job's own spec is left as it was


def proc_file(pid: int, name: str) -> bytes:
    return Path(f"/proc/{pid}/{name}").read_bytes()


@pytest.mark.slow
@live
def test_the_runner_gets_the_nodes_memory_cap_its_gpus_and_is_the_oom_killers_first_pick(
    live_server, token, monkeypatch
):
    FakeDriver(monkeypatch)  # two GPUs in NVML; torch here still sees none
    worker = worker_for(live_server.url, token)
    worker.config.profiling_memory_limit_bytes = 3 * 2**30
    worker.config.profiling_gpus = ["1"]
    worker.report_every_s = 0.5
    assert worker.poll_once() == Outcome("idle")  # the server took the new key
    capability = ProfilingCapability.objects.get(node__name=NODE)
    l4 = {"index": 1, "uuid": "GPU-lite-0000", "name": "NVIDIA L4", "memory_bytes": 24_152_899_584}
    assert capability.devices == [l4]  # only the GPU jobs may use
    assert worker.capabilities()["memory_limit_bytes"] == 3 * 2**30
    # The job asks for far more than the node allows.
    job = job_create(node=Node.objects.get(name=NODE), spec={**LONG, "memory_limit_bytes": 2**40})
    outcomes: list[Outcome] = []
    thread = threading.Thread(target=lambda: outcomes.append(worker.poll_once()))
    thread.start()
    try:
        # Once a point is in, the runner has read its spec and applied its limit.
        wait_for(lambda: ProfilingResult.objects.filter(job=job).exists())
        assert worker.process is not None
        pid = worker.process.pid
        argv = proc_file(pid, "cmdline").decode().split("\0")
        received = json.loads(Path(argv[argv.index("--spec-file") + 1]).read_text())
        environ = dict(
            entry.split("=", 1) for entry in proc_file(pid, "environ").decode().split("\0") if entry
        )
        oom_score_adj = proc_file(pid, "oom_score_adj").strip()
        limits = proc_file(pid, "limits").decode()
        assert job_cancel(job)
        thread.join(timeout=15)
    finally:
        worker.stop.set()
        thread.join(timeout=15)
    queued = ProfilingJob.objects.get(pk=job.pk).spec
    assert queued["memory_limit_bytes"] == 2**40  # the job itself is left as it was
    assert received == {**queued, "memory_limit_bytes": 3 * 2**30}
    assert environ["CUDA_VISIBLE_DEVICES"] == "GPU-lite-0000"
    assert "INFERSCOPE_TOKEN" not in environ
    assert oom_score_adj == b"1000"
    # On a CPU the runner turns the cap into its address-space limit.
    address_space = next(line for line in limits.splitlines() if line.startswith("Max address"))
    soft = address_space.split()[3]
    assert soft != "unlimited" and int(soft) >= 3 * 2**30
    assert outcomes == [Outcome("cancelled", job.pk)]
    assert runner_gone(worker.process)


@pytest.mark.parametrize("gpu", ["2", "GPU-nope"])
def test_a_profiling_gpu_the_node_lacks_turns_profiling_off(gpu, monkeypatch, caplog):
    FakeDriver(monkeypatch)
    worker = worker_for("http://127.0.0.1:9", "isa_x")  # never asked: nothing is sent
    worker.config.profiling_gpus = ["0", gpu]
    with caplog.at_level(logging.WARNING):
        assert [worker.poll_once() for _ in range(2)] == [Outcome("off")] * 2
    assert caplog.text.count(f"profiling jobs are off: GPU {gpu!r} is not on this node") == 1


def test_a_profiling_gpu_without_nvml_turns_profiling_off(caplog):
    worker = worker_for("http://127.0.0.1:9", "isa_x")  # no GPU here: NVML cannot load
    worker.config.profiling_gpus = ["0"]
    with caplog.at_level(logging.WARNING):
        assert worker.poll_once() == Outcome("off")
    assert "GPU '0' is not on this node (GPUs: none)" in caplog.text


# A stand-in runner: writes what the real one never does, then a sweep of two points.
