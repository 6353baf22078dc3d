"""Raw samples -> 1-minute -> 1-hour -> 1-day buckets, then the hour's cost records.

Every bucket is recomputed whole from the level below and upserted, so running
a job twice gives the same rows, and a late sample re-rolls the buckets it
falls in. Which buckets to recompute comes from the SampleSpan outbox that
ingest writes; the spans are deleted in the same transaction that rolls them
up, so a job killed half way leaves everything for the next run.
"""

import logging
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from collectors.models import SampleSpan
from costs import attribution
from costs.constants import ROLLUP_HOURS_PER_TRANSACTION
from costs.locks import cost_lock
from inferscope.lib.sql import as_datetime, trunc
from inferscope.lib.timerange import hour_floor, hours_between
from telemetry.choices import Resolution
from telemetry.constants import MAX_SAMPLE_GAP_S
from telemetry.rollups.gpu import gpu_minutes, merge_gpu
from telemetry.rollups.inference import inference_minutes, merge_inference

logger = logging.getLogger(__name__)

HOUR = timedelta(hours=1)
# Spans taken per run: a bounded transaction after a long outage; the rest
# waits for the next run. A day of 10 s batches from 100 agents is 864,000.
_MAX_SPANS = 1_000_000


def rollup_pending(now: datetime | None = None) -> int:
    """Roll up the buckets that pending spans touch; returns the number of hours re-rolled."""
    now = now or timezone.now()
    done = 0
    while True:
        with transaction.atomic():
            if not cost_lock(wait=False):
                logger.info("another rollup is running; leaving the spans to it")
                return done
            spans = _take_spans()
            if not spans:
                return done
            # Raw samples older than retention may be partly deleted already:
            # re-rolling their buckets would overwrite good rollups with fragments.
            oldest = hour_floor(now - timedelta(days=settings.RAW_SAMPLE_RETENTION_DAYS)) + HOUR
            hours = sorted(
                {h for start, end in spans for h in hours_between(max(start, oldest), end)}
            )
            # A few hours per transaction: on SQLite, ingest waits for it to commit.
            chunk = hours[:ROLLUP_HOURS_PER_TRANSACTION]
            roll_hours(chunk)
            _put_back(hours[ROLLUP_HOURS_PER_TRANSACTION:])
        done += len(chunk)
        # Done once a take fits in one transaction: new spans then add only the
        # newest hour or two, so a busy fleet cannot keep one run going for ever.
        if len(hours) <= ROLLUP_HOURS_PER_TRANSACTION:
            return done


def _put_back(hours: Sequence[datetime]) -> None:
    """Leave the hours not done yet as spans (_take_spans adds the gap back to their end)."""
    if not hours:
        return
    short = timedelta(seconds=MAX_SAMPLE_GAP_S + 1)
    SampleSpan.objects.bulk_create(
        SampleSpan(start=start, end=end - short) for start, end in _runs(hours)
    )


def _take_spans() -> set[tuple[datetime, datetime]]:
    """Delete and return the pending spans, as distinct (first hour, last hour) pairs.

    Deleting first, in the job's transaction, takes exactly the spans it will
    roll up: one committed meanwhile stays for the next run, and if the job
    dies the deletion rolls back with everything else.
    """
    table = SampleSpan._meta.db_table
    # A sample changes the covered time of the GPU's next sample, which may fall
    # in the following hour: a span reaches one sample gap past its end.
    gap = int(MAX_SAMPLE_GAP_S)
    if connection.vendor == "postgresql":
        last = f"date_trunc('hour', \"end\" + interval '{gap} seconds')"
    else:
        last = f"strftime('%Y-%m-%d %H:00:00', \"end\", '+{gap} seconds')"
    first = trunc("start", 3600)
    sql = (
        f"DELETE FROM {table} WHERE id IN (SELECT id FROM {table} ORDER BY id LIMIT %s)"
        f" RETURNING {first}, {last}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [_MAX_SPANS])
        rows = set(cursor.fetchall())
    return {(as_datetime(a), as_datetime(b)) for a, b in rows}


def roll_hours(hours: Sequence[datetime]) -> None:
    """Recompute the minute, hour and day buckets and the cost records of these hours."""
    if not hours:
        return
    for start, end in _runs(hours):
        gpu_minutes(start, end)
        inference_minutes(start, end)
        merge_gpu(Resolution.MINUTE, Resolution.HOUR, start, end)
        merge_inference(Resolution.MINUTE, Resolution.HOUR, start, end)
    for day in sorted({h.replace(hour=0) for h in hours}):
        merge_gpu(Resolution.HOUR, Resolution.DAY, day, day + timedelta(days=1))
        merge_inference(Resolution.HOUR, Resolution.DAY, day, day + timedelta(days=1))
    attribution.attribute_hours(hours)


def _runs(hours: Sequence[datetime]) -> Iterable[tuple[datetime, datetime]]:
    """Consecutive hours as [start, end) ranges, so each range is one query."""
    start = prev = hours[0]
    for hour in hours[1:]:
        if hour != prev + HOUR:
            yield start, prev + HOUR
            start = hour
        prev = hour
    yield start, prev + HOUR
