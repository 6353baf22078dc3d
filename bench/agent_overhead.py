"""The agent's own cost on a GPU node: CPU time as % of one core, and peak RSS.

Runs the real `inferscope-agent` process for --seconds (default 60) at a 1 s
interval with the simulated source (8 GPUs, 4 deployments) and two scraped
vLLM endpoints, served on loopback from realistic /metrics pages, posting to
a loopback receiver that answers like the ingest API. CPU is read from
/proc/PID/stat after a warm-up (imports and the first scrape are not the
steady state) and over the whole run; peak RSS is VmHWM.

    .venv/bin/python bench/agent_overhead.py [--seconds 60] [--dcgm]

--dcgm adds a dcgm-exporter page for 8 GPUs (default and profiling counters,
built from tests/agent/fixtures/dcgm_t0.txt) scraped as `--source dcgm=URL`:
the node without NVML.

Target: under 1% of one core and under 80 MB.
"""

from __future__ import annotations

import argparse
import http.server
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
TICKS = os.sysconf("SC_CLK_TCK")
MODEL = "meta-llama/Llama-3.1-8B-Instruct"
# vLLM V1's bucket lists (vllm/v1/metrics/loggers.py), so the page has its real size.
SECONDS = [
    0.001,
    0.005,
    0.01,
    0.02,
    0.04,
    0.06,
    0.08,
    0.1,
    0.25,
    0.5,
    0.75,
    1.0,
    2.5,
    5.0,
    7.5,
    10.0,
    20.0,
    40.0,
    80.0,
    160.0,
    640.0,
    2560.0,
]
LATENCY = [
    0.3,
    0.5,
    0.8,
    1.0,
    1.5,
    2.0,
    2.5,
    5.0,
    10.0,
    15.0,
    20.0,
    30.0,
    40.0,
    50.0,
    60.0,
    120.0,
    240.0,
    480.0,
    960.0,
    1920.0,
    7680.0,
]
ITL = [
    0.01,
    0.025,
    0.05,
    0.075,
    0.1,
    0.15,
    0.2,
    0.3,
    0.4,
    0.5,
    0.75,
    1.0,
    2.5,
    5.0,
    7.5,
    10.0,
    20.0,
    40.0,
    80.0,
]
TOKENS = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 20000, 50000, 100000]


def vllm_registry() -> tuple[Any, Any]:
    """A registry with vLLM's metric families for two engines, and a function that
    advances them by one second of traffic."""
    from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

    registry = CollectorRegistry()
    labels = ["model_name", "engine"]
    gauges = [
        Gauge(f"vllm:{n}", n, labels, registry=registry)
        for n in ("num_requests_running", "num_requests_waiting", "kv_cache_usage_perc")
    ]
    counters = [
        Counter(f"vllm:{n}", n, labels, registry=registry)
        for n in (
            "prompt_tokens",
            "generation_tokens",
            "num_preemptions",
            "prefix_cache_queries",
            "prefix_cache_hits",
        )
    ]
    success = Counter("vllm:request_success", "s", [*labels, "finished_reason"], registry=registry)
    histograms = [
        Histogram(f"vllm:{n}", n, labels, buckets=b, registry=registry)
        for n, b in (
            ("time_to_first_token_seconds", SECONDS),
            ("inter_token_latency_seconds", ITL),
            ("request_time_per_output_token_seconds", ITL),
            ("e2e_request_latency_seconds", LATENCY),
            ("request_queue_time_seconds", LATENCY),
            ("request_inference_time_seconds", LATENCY),
            ("request_prefill_time_seconds", LATENCY),
            ("request_decode_time_seconds", LATENCY),
            ("request_prompt_tokens", TOKENS),
            ("request_generation_tokens", TOKENS),
            ("iteration_tokens_total", TOKENS),
            ("request_params_max_tokens", TOKENS),
        )
    ]

    def advance() -> None:
        for engine in ("0", "1"):
            for gauge in gauges:
                gauge.labels(MODEL, engine).set(3)
            for counter in counters:
                counter.labels(MODEL, engine).inc(500)
            for reason in ("stop", "length", "abort"):
                success.labels(MODEL, engine, reason).inc()
            for histogram in histograms:
                for value in (0.05, 0.4, 3.0):
                    histogram.labels(MODEL, engine).observe(value)

    return registry, advance


class Counting(http.server.BaseHTTPRequestHandler):
    """vLLM /metrics pages on GET, growing by a second of traffic each time; an
    ingest-like 200 on POST."""

    registry, advance = vllm_registry()
    hits = 0
    posts = 0
    page_bytes = 0

    def do_GET(self) -> None:  # noqa: N802
        from prometheus_client import generate_latest

        Counting.hits += 1
        Counting.advance()
        body = generate_latest(Counting.registry)
        Counting.page_bytes = len(body)
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; version=0.0.4")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:  # noqa: N802
        self.rfile.read(int(self.headers["Content-Length"]))
        Counting.posts += 1
        body = json.dumps({"accepted": {}, "duplicate": False}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def dcgm_page(gpus: int = 8) -> bytes:
    """dcgm-exporter's page for `gpus` GPUs, from the fixture's first GPU."""
    fixture = ROOT / "tests" / "agent" / "fixtures" / "dcgm_t0.txt"
    lines = []
    for line in fixture.read_text().splitlines():
        if line.startswith("#"):
            lines.append(line)
        elif 'gpu="0"' in line:
            for gpu in range(gpus):
                lines.append(
                    line.replace('gpu="0"', f'gpu="{gpu}"')
                    .replace('device="nvidia0"', f'device="nvidia{gpu}"')
                    .replace(
                        "GPU-3f8a2c71-9d4e-5b60-a1c8-7e2f94d05b1", f"GPU-bench-0000-{gpu:04d}-"
                    )
                )
    return ("\n".join(lines) + "\n").encode()


class Dcgm(http.server.BaseHTTPRequestHandler):
    body = b""
    hits = 0

    def do_GET(self) -> None:  # noqa: N802
        Dcgm.hits += 1
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; version=0.0.4")
        self.send_header("Content-Length", str(len(Dcgm.body)))
        self.end_headers()
        self.wfile.write(Dcgm.body)

    def log_message(self, *args: object) -> None:
        pass


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime + stime


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--warmup", type=float, default=5.0)
    parser.add_argument("--dcgm", action="store_true", help="also scrape a dcgm-exporter page")
    args = parser.parse_args()
    extra: list[str] = []
    if args.dcgm:
        Dcgm.body = dcgm_page()
        dcgm = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Dcgm)
        threading.Thread(target=dcgm.serve_forever, daemon=True).start()
        extra = ["--source", f"dcgm=http://127.0.0.1:{dcgm.server_address[1]}/metrics"]

    servers = [http.server.ThreadingHTTPServer(("127.0.0.1", 0), Counting) for _ in range(3)]
    for server in servers:
        threading.Thread(target=server.serve_forever, daemon=True).start()
    ports = [s.server_address[1] for s in servers]
    with tempfile.TemporaryDirectory() as spool:
        agent = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "collectors.agent.main",
                "--interval",
                "1s",
                "--batch-max-age",
                "10s",
                "--token",
                "isa_bench",
                "--server-url",
                f"http://127.0.0.1:{ports[0]}",
                "--spool-dir",
                spool,
                "--source",
                "simulated",
                "--source",
                f"vllm:chat-a=http://127.0.0.1:{ports[1]}/metrics",
                "--source",
                f"vllm:chat-b=http://127.0.0.1:{ports[2]}/metrics",
                *extra,
            ],
            cwd=ROOT,
            stderr=subprocess.DEVNULL,
        )
        try:
            time.sleep(args.warmup)
            start_cpu, start = cpu_seconds(agent.pid), time.monotonic()
            time.sleep(args.seconds)
            cpu, wall = cpu_seconds(agent.pid) - start_cpu, time.monotonic() - start
            total_cpu = cpu_seconds(agent.pid)
            rss = peak_rss_mb(agent.pid)
        finally:
            agent.send_signal(signal.SIGTERM)
            agent.wait(timeout=30)
    for server in servers:
        server.shutdown()

    share = 100 * cpu / wall
    print("agent: 1 s interval, simulated 8 GPUs + 4 deployments, 2 scraped vLLM endpoints")
    print(
        f"  each /metrics page: {Counting.page_bytes / 1024:.0f} KiB (vLLM V1 families, 2 engines)"
    )
    print(
        f"  ran {wall:.1f} s after a {args.warmup:.0f} s warm-up: "
        f"{Counting.hits} scrapes, {Counting.posts} batches posted"
    )
    if args.dcgm:
        print(
            f"  + dcgm-exporter, 8 GPUs: {len(Dcgm.body) / 1024:.0f} KiB page, {Dcgm.hits} scrapes"
        )
    print(
        f"  CPU (steady state): {cpu:.2f} s = {share:.2f}% of one core (target < 1%): "
        f"{'PASS' if share < 1 else 'FAIL'}"
    )
    print(f"  CPU (including start-up): {total_cpu:.2f} s over {wall + args.warmup:.0f} s")
    print(f"  peak RSS: {rss:.1f} MB (target < 80 MB): {'PASS' if rss < 80 else 'FAIL'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
