"""The `slow` marker, enforced: a test not marked slow that starts a process or opens a
listening socket (gunicorn, celery, a Prometheus or SMTP server, an HTTP receiver thread,
the live server, Chromium, `manage.py` in a subprocess) fails, so `pytest -m "not slow"`
stays quick.

tests/conftest.py installs the checks once and turns them on around each test's setup
and call. They sit at the edges every such start passes through: Popen spawning its
child, os.fork, and a socket starting to listen.
"""

import os
import socket
import subprocess
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest

MARK_IT = (
    "{what} in a test not marked slow: mark the test @pytest.mark.slow, or its module"
    " `pytestmark = pytest.mark.slow`, so that `pytest -m 'not slow'` stays quick"
)
# The test being guarded (empty: none is), and what it started that it should not have.
guarded: list[str] = []
started: list[str] = []


def refuse(what: str) -> None:
    """Record `what` if a test not marked slow is running, and fail it here when this is
    the test's own thread. Another thread is let go on (the test would otherwise wait on
    a server that never starts, as pytest-django's live_server does, forever) and the test
    fails when its phase ends."""
    if guarded:
        message = MARK_IT.format(what=what)
        started.append(message)
        if threading.current_thread() is threading.main_thread():
            pytest.fail(message, pytrace=True)


def _wrap(owner: Any, name: str, what: Callable[..., str]) -> None:
    original = getattr(owner, name)

    def checked(*args: Any, **kwargs: Any) -> Any:
        refuse(what(*args, **kwargs))
        return original(*args, **kwargs)

    checked.__wrapped__ = original  # type: ignore[attr-defined]
    setattr(owner, name, checked)


def install() -> None:
    """Put the checks in place, once per test process; they do nothing until `guarding`."""
    if hasattr(subprocess.Popen._execute_child, "__wrapped__"):  # type: ignore[attr-defined]
        return
    _wrap(subprocess.Popen, "_execute_child", lambda _self, args, *rest, **kw: f"Popen({args!r})")
    _wrap(os, "fork", lambda: "os.fork()")
    _wrap(
        socket.socket, "listen", lambda sock, *args: f"a server listening on {sock.getsockname()}"
    )


@contextmanager
def guarding(item: pytest.Item) -> Iterator[None]:
    """Turn the checks on for `item`'s phase unless it is marked slow; after the phase,
    fail it for a start another thread made."""
    if item.get_closest_marker("slow") is not None:
        yield
        return
    guarded.append(item.nodeid)
    started.clear()
    try:
        yield
    finally:
        guarded.pop()
    if started:
        message = started[0]
        started.clear()
        pytest.fail(message, pytrace=False)
