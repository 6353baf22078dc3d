"""The `slow` marker is enforced: a test not marked slow that starts a process or a
server fails (tests/slow.py), so `pytest -m "not slow"` cannot quietly grow slow again."""

import socket
import subprocess
import sys
import threading

import pytest

from tests import slow


def refused(start) -> str:  # type: ignore[no-untyped-def]
    """What the guard says when `start()` runs in this (not slow) test; forgets it after."""
    with pytest.raises(pytest.fail.Exception) as failed:
        start()
    assert slow.started, "the guard did not record the start"
    slow.started.clear()
    return str(failed.value)


def test_a_test_not_marked_slow_cannot_start_a_process() -> None:
    message = refused(lambda: subprocess.run([sys.executable, "-c", "pass"], check=True))
    assert "Popen" in message and "@pytest.mark.slow" in message


def test_a_test_not_marked_slow_cannot_open_a_server() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        assert "a server listening on ('127.0.0.1'" in refused(sock.listen)


def test_a_server_started_on_another_thread_is_caught_when_the_test_ends() -> None:
    ready = threading.Event()

    def serve() -> None:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            sock.listen()  # not stopped here: the test waiting on it would hang
            ready.set()

    thread = threading.Thread(target=serve)
    thread.start()
    thread.join()
    assert ready.is_set()
    assert "a server listening on" in slow.started[0]  # the test would fail when it ends
    slow.started.clear()


def test_binding_a_port_without_listening_is_not_a_server() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
    assert not slow.started


@pytest.mark.slow
def test_a_test_marked_slow_may_start_processes_and_servers() -> None:
    subprocess.run([sys.executable, "-c", "pass"], check=True)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
    assert not slow.started
