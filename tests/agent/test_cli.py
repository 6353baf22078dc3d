"""`inferscope-agent` as a user runs it: a real process, real HTTP on loopback."""

import http.server
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from collectors.agent.config import ConfigError, SourceSpec, load

FIXTURES = Path(__file__).parent / "fixtures"
AGENT = [sys.executable, "-m", "collectors.agent.main"]
ROOT = Path(__file__).resolve().parents[2]


class MetricsServer:
    """Serves vLLM fixture pages on loopback: t0 first, then t1."""

    def __init__(self) -> None:
        pages = [(FIXTURES / f"vllm_v1_{t}.txt").read_bytes() for t in ("t0", "t1")]
        served = []

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                body = pages[min(len(served), 1)]
                served.append(self.path)
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; version=0.0.4")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/metrics"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()


@pytest.fixture
def vllm():
    server = MetricsServer()
    yield server
    server.close()


def run_agent(*args: str, env: dict | None = None, timeout: float = 30):
    return subprocess.run(
        [*AGENT, *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
    )


@pytest.mark.slow
def test_once_dry_run_prints_the_batch_it_would_send(vllm):
    result = run_agent(
        "--once",
        "--dry-run",
        "--interval",
        "1",
        "--node",
        "gpu-node-1",
        "--source",
        f"vllm:chat-8b={vllm.url}",
    )
    assert result.returncode == 0, result.stderr
    batch = json.loads(result.stdout)
    assert batch["schema_version"] == 1
    assert batch["inventory"]["deployments"] == [
        {
            "name": "chat-8b",
            "node": "gpu-node-1",
            "model": "meta-llama/Llama-3.1-8B-Instruct",
            "server": "vllm",
            "endpoint": vllm.url,
        }
    ]
    [sample] = batch["inference_samples"]
    assert sample["deployment"] == "chat-8b" and sample["requests_ok"] == 16
    assert sample["ttft_hist"]["counts"] == [7, 6, 3, 1]


@pytest.mark.slow
def test_without_a_gpu_it_says_so_once_and_goes_on_with_other_sources():
    result = run_agent(
        "--once", "--dry-run", "--interval", "0.2", "--source", "nvml", "--source", "simulated"
    )
    assert result.returncode == 0, result.stderr
    nvml_lines = [line for line in result.stderr.splitlines() if "NVML" in line]
    assert len(nvml_lines) == 1 and "no GPU telemetry" in nvml_lines[0]
    batch = json.loads(result.stdout)
    assert len(batch["gpu_samples"]) == 2 * 8
    assert all(node["simulated"] for node in batch["inventory"]["nodes"])


@pytest.mark.slow
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--source", "ollama=http://x"], "expected KIND[:NAME]=URL"),
        (["--source", "vllm=ftp://x"], "needs an http(s) URL"),
        (["--source", "simulated", "--interval", "soon"], "is not a duration"),
        (["--source", "simulated"], "no token"),
        ([], "no source"),
    ],
)
def test_bad_settings_get_one_plain_line(args, message):
    result = run_agent(*args, env={"INFERSCOPE_TOKEN": ""})
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and message in result.stderr
    assert result.stderr.startswith("inferscope-agent: ")


@pytest.mark.slow
def test_sigterm_keeps_what_was_collected_in_the_spool(tmp_path):
    closed = "http://127.0.0.1:9"  # discard port: nothing answers
    agent = subprocess.Popen(
        [
            *AGENT,
            "--source",
            "simulated",
            "--interval",
            "0.2",
            "--token",
            "isa_x",
            "--server-url",
            closed,
            "--spool-dir",
            str(tmp_path / "spool"),
        ],
        cwd=ROOT,
        stderr=subprocess.PIPE,
        text=True,
    )
    time.sleep(2.5)
    agent.send_signal(signal.SIGTERM)
    assert agent.wait(timeout=30) == 0
    spooled = sorted((tmp_path / "spool").glob("*.json.gz"))
    assert spooled, agent.stderr.read() if agent.stderr else ""


def test_settings_come_from_file_then_environment_then_flags(tmp_path, monkeypatch):
    config_file = tmp_path / "agent.toml"
    config_file.write_text(
        'server_url = "http://file"\n'
        'interval = "30s"\n'
        'sources = ["simulated"]\n'
        'token = "isa_file"\n'
    )
    monkeypatch.setenv("INFERSCOPE_INTERVAL", "20s")
    monkeypatch.setenv("INFERSCOPE_URL", "")
    config = load(["--config", str(config_file), "--node", "n1"])
    assert (config.server_url, config.interval_s, config.token, config.node) == (
        "http://file",
        20.0,
        "isa_file",
        "n1",
    )
    flagged = load(["--config", str(config_file), "--interval", "5s"])
    assert flagged.interval_s == 5.0


def test_a_source_may_name_its_deployment_and_select_labels():
    spec = SourceSpec.parse("triton:llama=http://h:8002/metrics#model=llama,version=1")
    assert (spec.kind, spec.name, spec.url) == ("triton", "llama", "http://h:8002/metrics")
    assert spec.select == {"model": "llama", "version": "1"}
    assert SourceSpec.parse("vllm=http://h:8000/metrics").name == "h:8000"
    with pytest.raises(ConfigError):
        SourceSpec.parse("nvml=http://x")


@pytest.mark.slow
def test_once_with_nothing_collected_says_so_and_fails():
    result = run_agent(
        "--once", "--dry-run", "--interval", "0.2", "--source", "vllm=http://127.0.0.1:9/metrics"
    )
    assert result.returncode == 1
    assert "no source produced a sample" in result.stderr


def test_sources_in_one_string_are_split_on_whitespace(monkeypatch):
    monkeypatch.setenv(
        "INFERSCOPE_SOURCES", "simulated triton:llama=http://h:8002/metrics#model=a,version=1"
    )
    config = load(["--dry-run"])
    assert [s.kind for s in config.sources] == ["simulated", "triton"]
    assert config.sources[1].select == {"model": "a", "version": "1"}


def test_batch_and_spool_limits_are_checked():
    with pytest.raises(ConfigError, match="1 to 10000"):
        load(["--dry-run", "--source", "simulated", "--batch-max-samples", "20000"])
    with pytest.raises(ConfigError, match="at least"):
        load(["--dry-run", "--source", "simulated", "--spool-max-bytes", "0"])
