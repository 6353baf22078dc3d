"""`make run` as a user starts and stops it: a stop signal to make's own pid (not to
its process group) stops the web server, workers, beat and agent within 10 s."""

import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.core.processes import ROOT, alive, descendants, embedded_env, free_port, stop, wait_until

pytestmark = pytest.mark.slow
STOP_LIMIT_SECONDS = 10


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_stop_signal_to_make_stops_everything_it_started(tmp_path, signum):
    log = tmp_path / "run.log"
    port = free_port()
    with log.open("wb") as out:
        make = subprocess.Popen(
            ["make", "--no-print-directory", "run"],
            cwd=ROOT,
            env=embedded_env(tmp_path / "var", port),
            stdout=out,
            stderr=subprocess.STDOUT,
            # Its own group, as from a terminal: the signal goes to make's pid alone.
            start_new_session=True,
        )
    try:
        wait_until(lambda: b"Inferscope is ready at" in log.read_bytes(), 120, "the ready line")
        names = {"gunicorn", "celery", "inferscope-agent"}
        wait_until(
            lambda: names <= {_program(pid) for pid in descendants(make.pid)}, 60, str(names)
        )
        started = descendants(make.pid)
        sent = time.monotonic()
        make.send_signal(signum)
        make.wait(timeout=STOP_LIMIT_SECONDS + 5)
        took = time.monotonic() - sent
        time.sleep(0.2)
        left = sorted(f"{pid} {_program(pid)}" for pid in started if alive(pid))
    finally:
        if make.poll() is None:
            stop(make)
    text = log.read_text(errors="replace")
    assert took < STOP_LIMIT_SECONDS, text[-3000:]
    assert left == [], text[-3000:]
    assert "inferscope: stopped in" in text
    assert "No child processes" not in text


def _program(pid: int) -> str:
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return ""
    # python .venv/bin/celery … → celery
    return next((a.decode().rsplit("/", 1)[-1] for a in argv[1:2]), "")
