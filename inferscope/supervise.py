"""The process supervisor behind `inferscope run` (and so `make run`): starts the
server's processes, and stops them all, within STOP_GRACE_SECONDS, when it is told
to stop, when one of them exits, or when the process that started it goes away."""

import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

# SIGTERM first, SIGKILL to the process group after this long: under 10 s in all.
STOP_GRACE_SECONDS = 8
_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def supervise(
    commands: Mapping[str, Sequence[str]],
    program: Callable[[str], str] = lambda name: name,
    on_started: Callable[[], bool] | None = None,
) -> int:
    """Run `commands` until one exits or we get SIGINT/SIGTERM/SIGHUP; then stop them all.

    Children get their own session so that Ctrl-C reaches only us, and each is
    stopped once, gracefully, with SIGTERM before a SIGKILL after the grace time.
    `on_started` is polled until it returns True (the server answers), once.
    """
    stopping = False

    def request_stop(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True

    # SIGHUP: the terminal closed. Children must not outlive us in any case.
    for signum in _STOP_SIGNALS:
        signal.signal(signum, request_stop)
    parent = _ParentWatch()
    children = {
        name: subprocess.Popen(
            [program(argv[0]), *argv[1:]],
            start_new_session=True,
            preexec_fn=terminate_with_parent,
        )
        for name, argv in commands.items()
    }
    exit_code = 0
    while not stopping:
        for name, child in children.items():
            if child.poll() is not None:
                _say(f"{name} exited with code {child.returncode}; stopping")
                exit_code = child.returncode or 1
                stopping = True
                break
        if not stopping and parent.is_stopping():
            _say("the process that started us is stopping; stopping")
            stopping = True
        if not stopping and on_started is not None and on_started():
            on_started = None
        time.sleep(0.2)
    _stop(children)
    return exit_code


def _stop(children: Mapping[str, subprocess.Popen]) -> None:
    started = time.monotonic()
    for child in children.values():
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
    took: dict[str, float] = {}
    while len(took) < len(children) and time.monotonic() - started < STOP_GRACE_SECONDS:
        for name, child in children.items():
            if name not in took and child.poll() is not None:
                took[name] = time.monotonic() - started
        time.sleep(0.05)
    killed = [name for name in children if name not in took]
    # Also whatever a child left in its process group (gunicorn's and Celery's workers).
    for child in children.values():
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(child.pid, signal.SIGKILL)
        child.wait()
    times = ", ".join(f"{name} {seconds:.1f} s" for name, seconds in took.items())
    late = f"; killed after {STOP_GRACE_SECONDS} s: {', '.join(killed)}" if killed else ""
    _say(f"stopped in {time.monotonic() - started:.1f} s ({times}{late})")


def _say(message: str) -> None:
    print(f"inferscope: {message}", file=sys.stderr, flush=True)


def terminate_with_parent() -> None:
    """Ask Linux for SIGTERM when our parent dies, even by SIGKILL.

    Called in each child before exec (so no server is left holding the port), and
    by `inferscope run` for itself (so that a killed `make` stops the whole server).
    """
    if sys.platform.startswith("linux"):
        pr_set_pdeathsig = 1
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


class _ParentWatch:
    """Tells when the process that started us has been asked to stop.

    GNU make forwards SIGTERM to its children, but on a SIGINT sent to make alone
    (not to the terminal's whole process group) it waits for them forever, and an
    ordinary death is covered by terminate_with_parent. What make does on a fatal
    signal is to reset that signal to its default action: a stop signal that the
    parent caught when we started and no longer catches means it is stopping.
    """

    def __init__(self) -> None:
        self.pid = os.getppid()
        self.caught = self._caught_stop_signals() if self._is_make() else 0

    def is_stopping(self) -> bool:
        if os.getppid() != self.pid:  # our parent died before PDEATHSIG was set
            return True
        return bool(self.caught) and (self._caught_stop_signals() & self.caught) != self.caught

    def _is_make(self) -> bool:
        try:
            name = Path(f"/proc/{self.pid}/comm").read_text().strip()
        except OSError:
            return False
        return name in ("make", "gmake")

    def _caught_stop_signals(self) -> int:
        try:
            status = Path(f"/proc/{self.pid}/status").read_text()
        except OSError:
            return 0
        for line in status.splitlines():
            if line.startswith("SigCgt:"):
                mask = int(line.split()[1], 16)
                return mask & sum(1 << (int(s) - 1) for s in _STOP_SIGNALS)
        return 0
