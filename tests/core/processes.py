"""Helpers for tests that start the real server: free ports, process trees, waits."""

import contextlib
import os
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# What a user's shell would not have: the test run's own database, broker and cache.
_TEST_ONLY = ("DATABASE_URL", "CELERY_BROKER_URL", "CACHE_URL", "INFERSCOPE_DATA_DIR")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def embedded_env(data_dir: Path, port: int, **extra: str) -> dict[str, str]:
    """The environment of a user who set nothing: SQLite and the embedded broker."""
    env = {k: v for k, v in os.environ.items() if k not in _TEST_ONLY}
    env.update(INFERSCOPE_DATA_DIR=str(data_dir), PORT=str(port), **extra)
    return env


def descendants(pid: int) -> set[int]:
    """Every live process below `pid`, whatever session or group it moved to."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        fields = text.rsplit(")", 1)[1].split()
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found: set[int] = set()
    todo = [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def wait_until(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.2)


def stop(process: subprocess.Popen) -> None:
    """Clean up after a failed test: the process and all below it."""
    for pid in descendants(process.pid) | {process.pid}:
        with contextlib.suppress(OSError):
            os.kill(pid, 9)
    process.wait(timeout=10)
