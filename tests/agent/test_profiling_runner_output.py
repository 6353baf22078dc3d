"""The agent against runners that misbehave: undecodable output, malformed events,
refused reports, a runner that cannot start (a fake runner script stands in)."""

import logging
import queue
import sys
import time
from pathlib import Path

import pytest

from collectors.agent.profiling import Outcome, ProfilingWorker, _pump
from collectors.models import Node
from profiling.choices import JobStatus
from profiling.models import ProfilingJob, ProfilingResult
from profiling.services import job_create
from tests.agent.profiling_support import (
    LONG,
    NODE,
    TINY,
    live,
    runner_gone,
    worker_for,
)

pytestmark = pytest.mark.slow

FAKE_RUNNER = """
import json, sys

def emit(event):
    sys.stdout.write(json.dumps(event) + "\\n")
    sys.stdout.flush()

def point(index, batch_size):
    return {"index": index, "batch_size": batch_size, "prompt_len": 8, "gen_len": 4,
            "dtype": "bf16", "quant": "none", "attention": "auto", "compile": False,
            "status": "ok", "decode_tokens_per_s": 100.0}

mode = sys.argv[1]
if mode == "bad-bytes":
    sys.stdout.buffer.write(b"loading \\xff\\xfe weights\\n")
    sys.stdout.flush()
    emit({"event": "start", "total": 2, "device": {"type": "cpu"}, "model": {"name": "tiny"}})
elif mode == "bad-events":
    emit({"event": "start", "total": "two", "device": "cpu", "model": ["tiny"]})
    emit({"event": "point"})
    emit({"event": "point", "point": "fast"})
    emit({"event": "point", "point": {**point(0, 1), "index": 2}})
    emit({"event": "point", "point": {**point(0, 1), "index": True}})
    emit({"event": "start", "total": [2]})
elif mode == "refused-device":
    emit({"event": "start", "total": 2, "device": {"type": "tpu"}, "model": {"name": "tiny"}})
elif mode == "refused-point":
    emit({"event": "start", "total": 2, "device": {"type": "cpu"}})
    emit({"event": "point", "point": {**point(0, 1), "dtype": "fp8"}})
elif mode == "bad-stderr":
    emit({"event": "start", "total": 2})
    sys.stderr.buffer.write(b"RuntimeError: weights \\xff unreadable\\n")
    sys.exit(1)
emit({"event": "point", "point": point(0, 1)})
emit({"event": "point", "point": point(1, 2)})
emit({"event": "done"})
"""


def fake_runner(worker: ProfilingWorker, folder: Path, mode: str) -> None:
    script = folder / "fake_runner.py"
    script.write_text(FAKE_RUNNER)
    # The worker adds --spec-file SPEC --format jsonl after these.
    worker.runner = [sys.executable, str(script), mode]


@live
def test_bytes_that_are_not_utf8_on_stdout_are_replaced_and_the_job_finishes(
    live_server, token, tmp_path
):
    worker = worker_for(live_server.url, token)
    worker.poll_once()
    job = job_create(node=Node.objects.get(name=NODE), spec=TINY, time_limit_s=20)
    fake_runner(worker, tmp_path, "bad-bytes")

    started = time.monotonic()
    assert worker.poll_once() == Outcome("done", job.pk)
    assert time.monotonic() - started < 10  # not waiting out the time limit
    job.refresh_from_db()
    assert (job.status, job.points_done, job.device) == ("done", 2, {"type": "cpu"})


@live
def test_bytes_that_are_not_utf8_on_stderr_still_make_the_error(live_server, token, tmp_path):
    worker = worker_for(live_server.url, token)
    worker.poll_once()
    job = job_create(node=Node.objects.get(name=NODE), spec=TINY)
    fake_runner(worker, tmp_path, "bad-stderr")

    outcome = worker.poll_once()
    assert outcome == Outcome("failed", job.pk, "RuntimeError: weights \ufffd unreadable")
    job.refresh_from_db()
    assert (job.status, job.error) == ("failed", outcome.error)


@live
def test_malformed_runner_events_are_ignored_with_a_warning(live_server, token, tmp_path, caplog):
    worker = worker_for(live_server.url, token)
    worker.poll_once()
    job = job_create(node=Node.objects.get(name=NODE), spec=TINY)
    fake_runner(worker, tmp_path, "bad-events")

    with caplog.at_level(logging.WARNING):
        assert worker.poll_once() == Outcome("done", job.pk)
    assert caplog.text.count("ignored a malformed point") == 4
    assert caplog.text.count("ignored a malformed total") == 2
    assert "ignored a malformed device: 'cpu'" in caplog.text
    assert "ignored a malformed model: ['tiny']" in caplog.text
    job.refresh_from_db()
    assert (job.status, job.error, job.points_total, job.points_done) == ("done", "", 2, 2)
    assert (job.device, job.model_info) == ({}, {})
    indices = ProfilingResult.objects.filter(job=job).values_list("index", flat=True)
    assert sorted(indices) == [0, 1]


@live
def test_an_unexpected_error_in_the_agent_kills_the_runner_and_fails_the_job(
    live_server, token, caplog
):
    worker = worker_for(live_server.url, token)
    worker.poll_once()
    job = job_create(node=Node.objects.get(name=NODE), spec=LONG)
    post = worker.client.post

    def broken_post(path: str, body: dict) -> object:
        if body.get("status") == "running":
            raise RuntimeError("the first progress report broke")
        return post(path, body)

    worker.client.post = broken_post
    with caplog.at_level(logging.ERROR):
        outcome = worker.poll_once()
    message = (
        "the agent failed while running the job: RuntimeError: the first progress report broke"
    )
    assert outcome == Outcome("failed", job.pk, message)
    assert runner_gone(worker.process)
    assert "Traceback" in caplog.text
    job.refresh_from_db()
    assert (job.status, job.error) == ("failed", message)


@live
def test_a_runner_that_cannot_start_fails_the_job(live_server, token, tmp_path):
    worker = worker_for(live_server.url, token)
    worker.poll_once()
    job = job_create(node=Node.objects.get(name=NODE), spec=TINY)
    worker.runner = [str(tmp_path / "no-such-python")]

    outcome = worker.poll_once()
    assert outcome.status == "failed"
    assert outcome.error.startswith("the agent failed while running the job: FileNotFoundError")
    assert ProfilingJob.objects.get(pk=job.pk).status == JobStatus.FAILED


def test_the_output_pump_always_ends_with_the_end_marker():
    def broken():
        yield '{"event": "start"}\n'
        raise OSError("read failed")

    lines: queue.Queue[str | None] = queue.Queue()
    _pump(broken(), lines)
    assert [lines.get_nowait(), lines.get_nowait()] == ['{"event": "start"}\n', None]


@live
def test_a_description_the_server_refuses_is_dropped_and_the_points_still_stored(
    live_server, token, tmp_path
):
    worker = worker_for(live_server.url, token)
    worker.poll_once()
    job = job_create(node=Node.objects.get(name=NODE), spec=TINY)
    fake_runner(worker, tmp_path, "refused-device")

    assert worker.poll_once() == Outcome("done", job.pk)
    job.refresh_from_db()
    assert (job.status, job.points_done, job.device) == ("done", 2, {})


@live
def test_a_final_report_the_server_refuses_still_ends_the_job(live_server, token, tmp_path):
    worker = worker_for(live_server.url, token)
    worker.poll_once()
    job = job_create(node=Node.objects.get(name=NODE), spec=TINY)
    fake_runner(worker, tmp_path, "refused-point")  # its points all go in the final report

    outcome = worker.poll_once()
    assert outcome.status == "failed"
    assert outcome.error.startswith("the server refused the runner's report: ")
    assert "points" in outcome.error
    job.refresh_from_db()
    assert (job.status, job.error) == ("failed", outcome.error)
