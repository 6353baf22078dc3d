"""Rollups are idempotent, re-roll late samples, and survive being killed half way."""

import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from decimal import Decimal
from typing import Any

import msgspec
import psycopg
import pytest
from django.conf import settings
from django.db import connection

from collectors.ingest import ingest_batch
from collectors.models import SampleSpan
from costs.models import CostRecord
from costs.pipeline import rollup_pending
from telemetry.choices import Resolution
from telemetry.models import GpuRollup, InferenceRollup
from tests.costs.fleet import DAY, set_prices, store_day

AFTER = DAY + timedelta(days=1, hours=1)


def snapshot() -> dict[str, list[tuple[Any, ...]]]:
    def rows(model: Any, order: list[str]) -> list[tuple[Any, ...]]:
        fields = [f.attname for f in model._meta.concrete_fields if f.attname != "id"]
        return list(model.objects.order_by(*order).values_list(*fields))

    return {
        "gpu": rows(GpuRollup, ["gpu_id", "resolution", "bucket"]),
        "inference": rows(InferenceRollup, ["deployment_id", "resolution", "bucket"]),
        "costs": rows(CostRecord, ["hour", "gpu_id", "deployment_id"]),
    }


def mark_day_dirty() -> None:
    SampleSpan.objects.create(start=DAY - timedelta(minutes=1), end=DAY + timedelta(hours=23))


@pytest.mark.django_db
def test_running_it_again_gives_the_same_rows() -> None:
    store_day(hours=3)
    set_prices()
    # 23:00 the day before (one sample), 3 hours, and the hour after (one sample gap on)
    assert rollup_pending(now=AFTER) == 5
    first = snapshot()
    assert SampleSpan.objects.count() == 0
    assert rollup_pending(now=AFTER) == 0  # nothing pending: nothing to do
    mark_day_dirty()
    rollup_pending(now=AFTER)
    assert snapshot() == first
    assert len(first["costs"]) > 0


@pytest.mark.django_db
def test_a_late_sample_re_rolls_the_buckets_it_falls_in() -> None:
    agent = store_day(hours=2)
    set_prices()
    rollup_pending(now=AFTER)
    late = DAY + timedelta(minutes=30, seconds=30)
    body = {
        "schema_version": 1,
        "batch_id": "late",
        "inference_samples": [
            {
                "deployment": "chat",
                "node": "node-a",
                "ts": late.isoformat(),
                "interval_s": 30.0,
                "requests_ok": 7,
                "gpu_memory": {"a0": 72 * 2**30},
            }
        ],
        "gpu_samples": [{"gpu": "a0", "ts": late.isoformat(), "power_w": 500.0}],
    }
    ingest_batch(agent, msgspec.json.encode(body), now=AFTER)
    rollup_pending(now=AFTER)
    minute = InferenceRollup.objects.get(
        deployment__name="chat", resolution=Resolution.MINUTE, bucket=late.replace(second=0)
    )
    assert minute.requests_ok == 10 + 7
    for resolution, bucket, expected in (
        (Resolution.HOUR, DAY, 600 + 7),
        (Resolution.DAY, DAY, 1200 + 7),
    ):
        rollup = InferenceRollup.objects.get(
            deployment__name="chat", resolution=resolution, bucket=bucket
        )
        assert rollup.requests_ok == expected
    gpu_hour = GpuRollup.objects.get(gpu__uuid="a0", resolution=Resolution.HOUR, bucket=DAY)
    assert gpu_hour.samples == 61
    assert gpu_hour.present_s == pytest.approx(3600)  # the late sample splits a minute, no more


@pytest.mark.django_db
def test_spans_older_than_raw_retention_are_dropped_without_re_rolling() -> None:
    store_day(hours=1)
    set_prices()
    later = DAY + timedelta(days=settings.RAW_SAMPLE_RETENTION_DAYS + 2)
    assert rollup_pending(now=later) == 0
    assert SampleSpan.objects.count() == 0
    assert GpuRollup.objects.count() == 0


@pytest.mark.slow
@pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="a second process on the same database needs PostgreSQL",
)
@pytest.mark.django_db(transaction=True)
def test_a_rollup_killed_half_way_leaves_nothing_and_a_rerun_gives_the_same_rows() -> None:
    store_day(hours=3)
    set_prices()
    db = settings.DATABASES["default"]
    dsn = f"host={db['HOST']} port={db['PORT'] or 5432} user={db['USER']} dbname={db['NAME']}"
    url = f"postgres://{db['USER']}@{db['HOST']}:{db['PORT'] or 5432}/{db['NAME']}"
    code = (
        "import django; django.setup();"
        "from datetime import datetime;"
        "from costs.pipeline import rollup_pending;"
        f"rollup_pending(now=datetime.fromisoformat('{AFTER.isoformat()}'))"
    )
    env = {**os.environ, "DATABASE_URL": url, "DJANGO_SETTINGS_MODULE": "inferscope.settings"}
    with psycopg.connect(dsn, autocommit=False) as blocker:
        # The job blocks on the cost table once its rollups are written, uncommitted.
        blocker.execute("LOCK TABLE costs_costrecord IN ACCESS EXCLUSIVE MODE")
        job = subprocess.Popen([sys.executable, "-c", code], env=env)
        try:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                waiting = blocker.execute(
                    "SELECT count(*) FROM pg_locks WHERE NOT granted AND relation = "
                    "'costs_costrecord'::regclass"
                ).fetchone()
                if waiting and waiting[0]:
                    break
                time.sleep(0.1)
            else:
                pytest.fail("the rollup never reached the cost records")
            job.send_signal(signal.SIGKILL)
            job.wait(timeout=30)
        finally:
            if job.poll() is None:
                job.kill()
        blocker.rollback()
    assert GpuRollup.objects.count() == 0
    assert SampleSpan.objects.count() > 0
    rollup_pending(now=AFTER)
    after_kill = snapshot()
    mark_day_dirty()
    rollup_pending(now=AFTER)
    assert snapshot() == after_kill
    assert len(after_kill["gpu"]) > 0


@pytest.mark.django_db
def test_a_deployment_sampled_every_two_minutes_still_pays_for_its_whole_gpu() -> None:
    agent = store_day(hours=0)  # the fleet and its inventory, no hour of samples
    set_prices()
    start = DAY - timedelta(minutes=2)
    gpu_samples, inference_samples = [], []
    for step in range(31):  # 00:00 to 01:00, every 120 s
        ts = (start + timedelta(minutes=2 * step)).isoformat()
        gpu_samples.append({"gpu": "a0", "ts": ts, "power_w": 500.0})
        if step:
            inference_samples.append(
                {
                    "deployment": "chat",
                    "node": "node-a",
                    "ts": ts,
                    "interval_s": 120.0,
                    "requests_ok": 5,
                    "gpu_memory": {"a0": 72 * 2**30},
                }
            )
    body = {
        "schema_version": 1,
        "batch_id": "slow",
        "gpu_samples": gpu_samples,
        "inference_samples": inference_samples,
    }
    ingest_batch(agent, msgspec.json.encode(body), now=AFTER)
    rollup_pending(now=AFTER)
    chat = CostRecord.objects.get(hour=DAY, gpu__uuid="a0", deployment__name="chat")
    # All of the GPU's price for the hour, none of it idle (before: half went to idle).
    # The GPU counts 3,540 s: store_day's 23:59 sample makes 00:00 cover one minute.
    assert chat.usd == Decimal("1.966666")
    assert not CostRecord.objects.filter(hour=DAY, gpu__uuid="a0", deployment=None, usd__gt=0)


@pytest.mark.django_db
def test_an_impossible_counter_is_refused_at_ingest_not_summed_into_an_overflow() -> None:
    from collectors.ingest import IngestError

    agent = store_day(hours=0)
    body = {
        "schema_version": 1,
        "batch_id": "huge",
        "inference_samples": [
            {
                "deployment": "chat",
                "node": "node-a",
                "ts": DAY.isoformat(),
                "interval_s": 10.0,
                "requests_ok": 2**62,
            }
        ],
    }
    with pytest.raises(IngestError) as refused:
        ingest_batch(agent, msgspec.json.encode(body), now=AFTER)
    assert refused.value.errors[0]["field"] == "inference_samples[0].requests_ok"
