"""A real task through the configured broker: Redis in CI (CELERY_BROKER_URL), the
embedded filesystem broker of `make run` otherwise. No eager mode anywhere."""

import os
from datetime import timedelta

import pytest
from celery.contrib.testing.worker import start_worker
from django.utils import timezone

from collectors.models import IngestBatch
from collectors.tasks import expire_ingest_batches_task
from inferscope.celery import app

pytestmark = pytest.mark.slow

BROKER = os.environ.get("CELERY_BROKER_URL", "")


def run_task_through_a_worker(agent) -> str:
    old = IngestBatch.objects.create(agent=agent, batch_id="old")
    IngestBatch.objects.filter(pk=old.pk).update(received_at=timezone.now() - timedelta(days=30))
    app.loader.import_default_modules()
    # The default queue named: a worker started earlier in this process (the alerts
    # end-to-end test) leaves the app selecting only the queues it consumed.
    with start_worker(
        app, pool="solo", queues=["celery"], perform_ping_check=False, shutdown_timeout=20
    ):
        result = expire_ingest_batches_task.apply_async(ignore_result=False)
        summary = result.get(timeout=30)
    assert not IngestBatch.objects.exists()
    return summary


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(
    not BROKER.startswith("redis"), reason="set CELERY_BROKER_URL=redis://… (CI does)"
)
def test_a_task_runs_through_the_redis_broker(agent_token):
    assert app.connection_for_write().transport_cls == "redis"
    assert run_task_through_a_worker(agent_token[0]) == "deleted 1 ingest batch records"


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(bool(BROKER), reason="the embedded broker is the default when none is set")
def test_a_task_runs_through_the_embedded_filesystem_broker(agent_token):
    assert app.conf.broker_url.startswith("filesystem://")
    assert run_task_through_a_worker(agent_token[0]) == "deleted 1 ingest batch records"
