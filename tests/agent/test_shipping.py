"""The agent's shipping path against the real ingest API on a live server."""

import gzip
import json
import logging
import socket

import pytest

from collectors.agent.client import IngestClient, Shipper, encode
from collectors.agent.spool import Spool
from collectors.models import GpuSample, IngestBatch
from collectors.services import agent_create
from tests.builders.ingest import batch

pytestmark = pytest.mark.django_db(transaction=True)


def closed_port_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"  # nothing listens there once the socket is closed


@pytest.fixture
def token() -> str:
    return agent_create("shipper")[1]


def shipper_for(url: str, token: str, tmp_path, max_bytes: int = 10_000_000) -> Shipper:
    sleeps: list[float] = []
    shipper = Shipper(
        IngestClient(url, token, timeout=5),
        Spool(tmp_path / "spool", max_bytes),
        sleep=sleeps.append,  # the clock is the edge we stand in for
    )
    shipper.sleeps = sleeps  # type: ignore[attr-defined]
    return shipper


def test_a_batch_is_posted_gzipped_and_stored(live_server, token, tmp_path):
    shipper = shipper_for(live_server.url, token, tmp_path)
    shipper.send(batch("b1"))
    assert GpuSample.objects.count() == 4
    assert shipper.spool.pending() == 0


def test_batches_wait_in_the_spool_while_the_server_is_away_then_go_once(
    live_server, token, tmp_path
):
    away = shipper_for(closed_port_url(), token, tmp_path)
    for n in range(3):
        away.send(batch(f"b{n}", earlier_s=600 * n))
    assert away.spool.pending() == 3
    # 3 tries per batch, the waits between them growing: 0.5-1 s, then 1-2 s.
    assert len(away.sleeps) == 2 * 3
    for first, second in zip(away.sleeps[::2], away.sleeps[1::2], strict=True):
        assert 0.5 <= first <= 1.0 and 1.0 <= second <= 2.0
    assert GpuSample.objects.count() == 0
    away.spool.close()  # the agent restarts

    back = shipper_for(live_server.url, token, tmp_path)
    assert back.drain() == 3
    assert back.spool.pending() == 0
    assert GpuSample.objects.count() == 12
    # Replaying again (a crash before the file was removed) stores nothing twice.
    back.spool.put("b0", encode(batch("b0")), 5)
    back.drain()
    assert IngestBatch.objects.count() == 3 and GpuSample.objects.count() == 12


def test_a_refused_batch_is_logged_with_the_servers_reason_counted_and_not_retried(
    live_server, token, tmp_path, caplog
):
    shipper = shipper_for(live_server.url, token, tmp_path)
    bad = batch("bad")
    bad["gpu_samples"][0]["ts"] = "1999-01-01T00:00:00Z"  # the server's 400
    with caplog.at_level(logging.ERROR):
        shipper.send(bad)
    assert shipper.spool.pending() == 0 and shipper.sleeps == []
    assert "HTTP 400" in caplog.text and "before 2000" in caplog.text
    assert shipper.spool.dropped_samples() == 5


def test_a_rejected_token_keeps_the_batches_for_when_it_is_fixed(live_server, token, tmp_path):
    wrong = shipper_for(live_server.url, "isa_wrong-token", tmp_path)
    wrong.send(batch("b1"))
    assert wrong.spool.pending() == 1 and wrong.spool.dropped_samples() == 0
    wrong.spool.close()  # restarted with the right token
    fixed = shipper_for(live_server.url, token, tmp_path)
    assert fixed.drain() == 1
    assert GpuSample.objects.count() == 4


@pytest.mark.slow
def test_a_redirect_is_not_followed_and_the_batch_waits(token, tmp_path):
    import http.server
    import threading

    class Redirect(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            self.send_response(301)
            self.send_header("Location", "https://elsewhere.invalid/api/v1/ingest")
            self.end_headers()

        def log_message(self, *args) -> None:
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Redirect)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        shipper = shipper_for(f"http://127.0.0.1:{server.server_address[1]}", token, tmp_path)
        shipper.send(batch("b1"))
        assert shipper.spool.pending() == 1
    finally:
        server.shutdown()


def test_a_full_spool_drops_the_oldest_and_counts_their_samples(tmp_path):
    body = encode(batch("x"))
    spool = Spool(tmp_path / "spool", max_bytes=len(body) * 3 // 2)  # room for one
    spool.put("old", body, 5)
    spool.put("new", body, 7)
    assert spool.pending() == 1 and spool.oldest().batch_id == "new"
    assert spool.dropped_samples() == 5
    # The count survives a restart of the agent.
    spool.close()
    assert Spool(tmp_path / "spool", max_bytes=10**6).dropped_samples() == 5


def test_spooled_batches_replay_in_the_order_they_were_made(tmp_path):
    spool = Spool(tmp_path / "spool", max_bytes=10_000_000)
    for n in range(12):
        spool.put(f"b{n}", encode({"batch_id": f"b{n}"}), 1)
    order = []
    spool.close()
    reopened = Spool(tmp_path / "spool", max_bytes=10_000_000)  # as after a restart
    while (entry := reopened.claim_oldest()) is not None:
        order.append(json.loads(gzip.decompress(entry.read()))["batch_id"])
        reopened.release(entry, done=True)
    assert order == [f"b{n}" for n in range(12)]
    assert list((tmp_path / "spool").glob("*.json.gz")) == []


def test_batches_tell_the_server_how_many_samples_the_spool_dropped(live_server, token, tmp_path):
    from datetime import UTC, datetime

    from collectors.agent.config import Config, SourceSpec
    from collectors.agent.runner import Runner
    from collectors.agent.sources import SimulatedCollector
    from collectors.models import Agent

    shipper = shipper_for(live_server.url, token, tmp_path)
    shipper.spool.add_dropped(42)  # as an overflow while the server was away would
    config = Config(token=token, sources=[SourceSpec("simulated")], interval_s=10)
    runner = Runner(config, [SimulatedCollector(10)], shipper)
    runner.tick(datetime.now(UTC))
    runner.flush()
    assert Agent.objects.get(name="shipper").dropped_samples == 42


def test_the_budget_never_drops_the_batch_being_sent_or_the_newest(tmp_path):
    body = encode(batch("x"))
    spool = Spool(tmp_path / "spool", max_bytes=len(body) * 3 // 2)
    spool.put("sending", body, 5)
    entry = spool.claim_oldest()
    spool.put("newer", body, 6)
    spool.put("newest", body, 7)
    assert [e.batch_id for e in spool._entries] == ["sending", "newest"]
    assert spool.dropped_samples() == 6
    spool.release(entry, done=True)
    assert [e.batch_id for e in spool._entries] == ["newest"]
    big = Spool(tmp_path / "big", max_bytes=10)
    big.put("alone-over-budget", body, 3)
    assert big.pending() == 1 and big.dropped_samples() == 0


def test_a_second_agent_cannot_share_a_spool(tmp_path):
    from collectors.agent.spool import SpoolBusy

    first = Spool(tmp_path / "spool", max_bytes=10**6)
    with pytest.raises(SpoolBusy, match="another agent"):
        Spool(tmp_path / "spool", max_bytes=10**6)
    first.close()
    Spool(tmp_path / "spool", max_bytes=10**6).close()
