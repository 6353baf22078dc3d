"""Samples in through the ingest API, a Slack message out, with the beat schedule and a
worker running for real (Redis in CI, the embedded broker otherwise). Prints the time."""

import time
from datetime import timedelta
from pathlib import Path

import pytest
from celery.beat import EmbeddedService
from celery.contrib.testing.worker import start_worker

from alerts.models import Channel, Rule
from inferscope.celery import app
from tests.alerts.receivers import HttpReceiver
from tests.builders.ingest import gpu_sample, inventory, now_utc

pytestmark = pytest.mark.slow

DEADLINE_SECONDS = 60


@pytest.mark.django_db(transaction=True)
def test_a_breach_reaches_slack_within_a_minute_of_its_sample(
    post_batch,
    http_receiver: HttpReceiver,
    settings,
    tmp_path: Path,
    capsys,  # type: ignore[no-untyped-def]
) -> None:
    settings.ALERTS_ALLOW_PRIVATE_ADDRESSES = True
    slack = Channel.objects.create(name="slack", kind="slack", url=http_receiver.url)
    rule = Rule.objects.create(
        name="GPU pegged", kind="threshold", metric="gpu.util", comparison=">", value=95
    )
    rule.channels.add(slack)
    app.loader.import_default_modules()
    beat = EmbeddedService(app, thread=True, schedule_filename=str(tmp_path / "beat-schedule"))
    # Only the alerts queue: evaluation and delivery need nothing from the main worker.
    with start_worker(
        app,
        pool="threads",
        concurrency=4,
        queues=["alerts"],
        perform_ping_check=False,
        shutdown_timeout=20,
    ):
        beat.start()
        try:
            now = now_utc()
            body = {
                "schema_version": 1,
                "batch_id": "hot",
                "agent_version": "0.1.0",
                "inventory": inventory(),
                "gpu_samples": [
                    gpu_sample("GPU-0000", now - timedelta(seconds=s), util_gpu=99.0)
                    for s in (10, 0)
                ],
            }
            assert post_batch(body).status_code in (200, 202)
            stored = time.monotonic()
            [message] = http_receiver.wait(1, timeout=DEADLINE_SECONDS + 15)[:1]
            elapsed = time.monotonic() - stored
        finally:
            beat.stop()
    with capsys.disabled():  # shown in CI's log, not captured
        print(  # noqa: T201 (the issue asks for the figure in the test output)
            f"\nsample stored -> Slack message received: {elapsed:.1f} s"
            f" (limit {DEADLINE_SECONDS} s)"
        )
    assert message.json["text"].startswith("[Firing] GPU pegged: GPU node-1 #0")
    assert elapsed < DEADLINE_SECONDS
