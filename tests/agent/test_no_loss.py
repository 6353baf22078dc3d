"""Nothing lost, nothing stored twice: a real agent process posting to a real
gunicorn on PostgreSQL, through a loopback proxy that cuts connections, while
the web server is stopped and started again."""

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest
from django.db import connection

from collectors.agent.client import IngestClient, Shipper
from collectors.agent.spool import Spool
from collectors.models import GpuSample, InferenceSample, IngestBatch
from collectors.services import agent_create
from tests.core.processes import free_port

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


class Web:
    """gunicorn serving the project on the test database."""

    def __init__(self, tmp_path: Path) -> None:
        db = connection.settings_dict
        self.port = free_port()
        self.env = {
            **os.environ,
            "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
            "INFERSCOPE_DATA_DIR": str(tmp_path / "web"),
            "LOG_LEVEL": "WARNING",
        }
        self.env.pop("CELERY_BROKER_URL", None)
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        gunicorn = Path(sys.executable).with_name("gunicorn")
        self.process = subprocess.Popen(
            [
                str(gunicorn),
                "inferscope.wsgi:application",
                "--bind",
                f"127.0.0.1:{self.port}",
                "--workers",
                "2",
                "--graceful-timeout",
                "5",
            ],
            cwd=ROOT,
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{self.port}/healthz", timeout=2)
                return
            except OSError:
                time.sleep(0.2)
        raise AssertionError("gunicorn did not start")

    def stop(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(timeout=20)


class Proxy:
    """Loopback TCP proxy: forward, cut a request half way, or forward a request
    and then hang up before passing on the answer (the case only idempotent
    batch ids make safe)."""

    def __init__(self, upstream: int) -> None:
        self.upstream = upstream
        self.mode = "forward"
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            threading.Thread(target=self._handle, args=(client,), daemon=True).start()

    def _handle(self, client: socket.socket) -> None:
        mode = self.mode
        with client:
            if mode == "cut":
                client.recv(512)
                return
            try:
                upstream = socket.create_connection(("127.0.0.1", self.upstream), timeout=30)
            except OSError:
                return  # the web server is down: the client sees a closed connection
            with upstream, contextlib.suppress(OSError):  # gunicorn may stop mid-request
                request = _read_request(client)
                upstream.sendall(request)
                response = _read_all(upstream)
                if mode == "forward":
                    client.sendall(response)


def _read_request(sock: socket.socket) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data:
        data += sock.recv(65536)
    head, _, body = data.partition(b"\r\n\r\n")
    length = int(re.search(rb"(?i)content-length:\s*(\d+)", head).group(1))
    while len(body) < length:
        body += sock.recv(65536)
    return head + b"\r\n\r\n" + body


def _read_all(sock: socket.socket) -> bytes:
    chunks = []
    while chunk := sock.recv(65536):
        chunks.append(chunk)
    return b"".join(chunks)


def test_every_collected_sample_is_stored_exactly_once(tmp_path):
    if connection.vendor != "postgresql":
        pytest.skip("runs gunicorn on the test database: needs PostgreSQL (set DATABASE_URL)")
    _, token = agent_create("no-loss")
    web = Web(tmp_path)
    web.start()
    proxy = Proxy(web.port)
    spool_dir = tmp_path / "spool"
    agent = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "collectors.agent.main",
            "--source",
            "simulated",
            "--interval",
            "0.5",
            "--batch-max-age",
            "1s",
            "--token",
            token,
            "--server-url",
            f"http://127.0.0.1:{proxy.port}",
            "--spool-dir",
            str(spool_dir),
        ],
        cwd=ROOT,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        time.sleep(3)
        proxy.mode = "drop"  # stored, but the agent never hears so
        time.sleep(3)
        proxy.mode = "cut"  # half a request, then nothing
        time.sleep(2)
        proxy.mode = "forward"
        web.stop()  # the server goes away for a while
        time.sleep(3)
        web.start()
        time.sleep(6)
        # The agent's own shipper caught up once the server was back.
        assert len(list(spool_dir.glob("*.json.gz"))) <= 2
    finally:
        agent.send_signal(signal.SIGTERM)
        _, stderr = agent.communicate(timeout=60)
    collected = int(re.search(r"stopped after collecting (\d+) samples", stderr).group(1))
    # What SIGTERM left in the spool goes at the next start; send it the same way.
    Shipper(IngestClient(f"http://127.0.0.1:{web.port}", token), Spool(spool_dir, 10**9)).drain()
    web.stop()
    stored = GpuSample.objects.count() + InferenceSample.objects.count()
    assert collected > 100
    assert stored == collected, stderr[-3000:]
    assert IngestBatch.objects.count() >= 10
