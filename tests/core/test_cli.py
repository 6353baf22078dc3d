"""The process supervisor behind `make run`, driven with real child processes."""

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]


def start_supervisor(tmp_path: Path, commands: dict[str, list[str]]) -> subprocess.Popen:
    script = textwrap.dedent(
        f"""
        import sys
        from inferscope.supervise import supervise
        sys.exit(supervise({commands!r}))
        """
    )
    return subprocess.Popen([sys.executable, "-c", script], cwd=ROOT)


def wait_for(path: Path, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if time.monotonic() > deadline:
            raise AssertionError(f"{path} never appeared")
        time.sleep(0.05)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie still answers kill(0): look at its state.
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().split()[2] != "Z"


def child(tmp_path: Path, name: str) -> list[str]:
    # Writes its pid, then waits; exits 0 on SIGTERM like a well-behaved server.
    code = (
        "import os, signal, sys, time, pathlib;"
        "signal.signal(signal.SIGTERM, lambda *a: sys.exit(0));"
        f"pathlib.Path({str(tmp_path / name)!r}).write_text(str(os.getpid()));"
        "time.sleep(60)"
    )
    return [sys.executable, "-c", code]


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP])
def test_a_stop_signal_stops_every_process(tmp_path, signum):
    supervisor = start_supervisor(
        tmp_path, {n: child(tmp_path, n) for n in ("web", "worker", "beat")}
    )
    for name in ("web", "worker", "beat"):
        wait_for(tmp_path / name)
    pids = [int((tmp_path / n).read_text()) for n in ("web", "worker", "beat")]
    supervisor.send_signal(signum)
    assert supervisor.wait(timeout=15) == 0
    time.sleep(0.2)
    assert not any(alive(pid) for pid in pids)


def test_children_do_not_outlive_a_killed_supervisor(tmp_path):
    supervisor = start_supervisor(tmp_path, {n: child(tmp_path, n) for n in ("web", "worker")})
    for name in ("web", "worker"):
        wait_for(tmp_path / name)
    pids = [int((tmp_path / n).read_text()) for n in ("web", "worker")]
    supervisor.kill()
    supervisor.wait(timeout=5)
    deadline = time.monotonic() + 5
    while any(alive(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(alive(pid) for pid in pids)


def test_one_process_dying_stops_the_others_with_an_error(tmp_path):
    commands = {
        "web": child(tmp_path, "web"),
        "worker": [sys.executable, "-c", "raise SystemExit(3)"],
    }
    supervisor = start_supervisor(tmp_path, commands)
    wait_for(tmp_path / "web")
    web_pid = int((tmp_path / "web").read_text())
    assert supervisor.wait(timeout=15) == 3
    time.sleep(0.2)
    assert not alive(web_pid)


def test_an_unknown_subcommand_prints_usage():
    result = subprocess.run(
        [sys.executable, "-m", "inferscope.cli", "serve"], cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode == 2
    commands = "web|worker|alerts-worker|beat|agent|init|run"
    assert result.stderr.strip() == f"usage: inferscope {{{commands}}}"
