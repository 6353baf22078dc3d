"""What the profiling-job tests share: specs, a worker against a live server, waits."""

import os
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from collectors.agent.config import Config
from collectors.agent.profiling import JobClient, ProfilingWorker

# The worker talks to a live server from other threads and processes.
live = pytest.mark.django_db(transaction=True)

ROOT = Path(__file__).resolve().parents[2]
NODE = "gpu-node-1"
TINY = {
    "preset": "tiny",
    "device": "cpu",
    "batch_sizes": [1, 2],
    "prompt_lens": [8],
    "gen_lens": [4],
    "repeats": 1,
    "warmup": 0,
}
# 128 points of 50 repeats: far more than any test waits for. With one repeat a
# fast machine ran them all within a second, and a test reading the runner's /proc
# files after the first point found the process gone.
LONG = {
    **TINY,
    "batch_sizes": [1, 2, 4, 8, 16, 32, 64, 128],
    "prompt_lens": [8, 16, 32, 64],
    "gen_lens": [4, 8, 16, 32],
    "repeats": 50,
}


def worker_for(url: str, token: str, presets: tuple[str, ...] = ("tiny",)) -> ProfilingWorker:
    config = Config(server_url=url, token=token, node=NODE, profiling_presets=list(presets))
    worker = ProfilingWorker(config, JobClient(url, token, timeout=5))
    worker.backoff_s = 0.01  # the retries, not their waiting, are under test
    return worker


def wait_for(condition: Callable[[], bool], timeout: float = 30.0) -> None:
    end = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < end, "timed out"
        time.sleep(0.05)


def runner_gone(process: subprocess.Popen | None) -> bool:
    """The runner ended, and nothing is left in its process group."""
    assert process is not None
    try:
        os.killpg(process.pid, 0)
    except ProcessLookupError:
        return process.poll() is not None
    return False
