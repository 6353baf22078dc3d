"""Store one ingest batch: validate all of it, then write all of it, or nothing.

The write path is built for throughput: one msgspec decode, a handful of
queries for the inventory, and the samples streamed with COPY on PostgreSQL.
"""

import functools
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from psycopg.errors import UniqueViolation

from collectors.constants import EARLIEST_SAMPLE_TIME, LAST_SEEN_RESOLUTION, MAX_REPORTED_ERRORS
from collectors.inventory import (
    InventoryError,
    check_gpu_memory,
    resolve_deployments,
    resolve_gpus,
    upsert_inventory,
)
from collectors.models import Agent, GpuSample, InferenceSample, IngestBatch, SampleSpan
from collectors.schema import (
    GPU_SAMPLE_COLUMNS,
    INFERENCE_SAMPLE_COLUMNS,
    JSON_COLUMNS,
    Batch,
    decode_batch,
    explain_errors,
)
from inferscope.lib.sql import as_json, param

logger = logging.getLogger(__name__)


class IngestError(Exception):
    """The batch was refused; `errors` lists {"field", "message"} for the caller."""

    def __init__(self, errors: list[dict[str, str]]) -> None:
        super().__init__(errors[0]["message"] if errors else "invalid batch")
        self.errors = errors


@dataclass(frozen=True)
class IngestResult:
    batch_id: str
    gpu_samples: int
    inference_samples: int
    duplicate: bool

    def as_dict(self) -> dict[str, Any]:
        return {
            "batch_id": self.batch_id,
            "accepted": {
                "gpu_samples": self.gpu_samples,
                "inference_samples": self.inference_samples,
            },
            "duplicate": self.duplicate,
        }


def parse_batch(body: bytes, now: datetime | None = None) -> Batch:
    """Decode and check a body without touching the database; raises IngestError."""
    try:
        batch = decode_batch(body)
    except (msgspec.DecodeError, msgspec.ValidationError, RecursionError, UnicodeDecodeError):
        raise IngestError(explain_errors(body)) from None
    _in_utc(batch.gpu_samples)
    _in_utc(batch.inference_samples)
    errors = _check_limits(batch, now or timezone.now())
    if errors:
        raise IngestError(errors)
    return batch


def _in_utc(samples: Sequence[Any]) -> None:
    """Every time in UTC from here on: RFC 3339 allows offsets to ±23:59, PostgreSQL's
    timestamptz input only to ±15:59, and a batch must not fail on how it wrote its clock."""
    for sample in samples:
        if sample.ts.tzinfo is not UTC:
            sample.ts = sample.ts.astimezone(UTC)


def _check_limits(batch: Batch, now: datetime) -> list[dict[str, str]]:
    total = len(batch.gpu_samples) + len(batch.inference_samples)
    if total > settings.INGEST_MAX_SAMPLES:
        message = f"A batch holds at most {settings.INGEST_MAX_SAMPLES} samples; this has {total}"
        bigger = len(batch.gpu_samples) >= len(batch.inference_samples)
        return [{"field": "gpu_samples" if bigger else "inference_samples", "message": message}]
    latest = now + timedelta(seconds=settings.INGEST_MAX_FUTURE_SECONDS)
    errors: list[dict[str, str]] = []
    for field, samples in (
        ("gpu_samples", batch.gpu_samples),
        ("inference_samples", batch.inference_samples),
    ):
        if not samples:
            continue
        # min/max first: the common, valid batch pays two C-speed passes, not a loop.
        stamps = [s.ts for s in samples]
        if min(stamps) >= EARLIEST_SAMPLE_TIME and max(stamps) <= latest:
            continue
        for index, ts in enumerate(stamps):
            if ts < EARLIEST_SAMPLE_TIME:
                message = "Timestamp is before 2000-01-01: check the clock and the unit"
            elif ts > latest:
                ahead = settings.INGEST_MAX_FUTURE_SECONDS
                message = f"Timestamp is more than {ahead} s ahead of the server clock"
            else:
                continue
            errors.append({"field": f"{field}[{index}].ts", "message": message})
            if len(errors) >= MAX_REPORTED_ERRORS:
                return errors
    return errors


def ingest_batch(agent: Agent, body: bytes, now: datetime | None = None) -> IngestResult:
    """Validate and store one batch for `agent`; a batch id seen before stores nothing."""
    now = now or timezone.now()
    batch = parse_batch(body, now)
    with transaction.atomic():
        if connection.vendor == "postgresql":
            # A batch waits this long for another's row locks, then gets a 503
            # and is retried, instead of holding a web worker indefinitely.
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL lock_timeout = '10s'")
        if not _claim_batch(agent, batch):
            seen = IngestBatch.objects.get(agent=agent, batch_id=batch.batch_id)
            return IngestResult(seen.batch_id, seen.gpu_samples, seen.inference_samples, True)
        try:
            refs = upsert_inventory(batch.inventory, agent)
            gpu_ids = resolve_gpus(refs, [s.gpu for s in batch.gpu_samples])
            deployment_ids = resolve_deployments(
                refs, [(s.node, s.deployment) for s in batch.inference_samples]
            )
            check_gpu_memory(refs, deployment_ids, [s.gpu_memory for s in batch.inference_samples])
        except InventoryError as exc:
            raise IngestError(exc.errors) from None
        _write_gpu_samples(batch, gpu_ids)
        _write_inference_samples(batch, deployment_ids)
        _record_span(batch)
        _touch_agent(agent, batch, now)
    return IngestResult(batch.batch_id, len(batch.gpu_samples), len(batch.inference_samples), False)


def _claim_batch(agent: Agent, batch: Batch) -> bool:
    """Record the batch id; False if this agent sent it before.

    The unique (agent, batch_id) row is the claim: a concurrent retry of the same
    batch waits here until the first commits, then finds the conflict.
    """
    table = connection.ops.quote_name(IngestBatch._meta.db_table)
    received = param(timezone.now())
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table}"
            " (agent_id, batch_id, received_at, gpu_samples, inference_samples)"
            " VALUES (%s, %s, %s, %s, %s) ON CONFLICT (agent_id, batch_id) DO NOTHING",
            [
                agent.pk,
                batch.batch_id,
                received,
                len(batch.gpu_samples),
                len(batch.inference_samples),
            ],
        )
        return cursor.rowcount == 1


def _write_gpu_samples(batch: Batch, gpu_ids: dict[str, int]) -> None:
    if not batch.gpu_samples:
        return
    astuple = msgspec.structs.astuple
    rows = [(gpu_ids[t[0]], *t[1:]) for t in map(astuple, batch.gpu_samples)]
    _insert_rows(GpuSample, ("gpu_id", *GPU_SAMPLE_COLUMNS), rows)


def _write_inference_samples(batch: Batch, deployment_ids: list[int]) -> None:
    if not batch.inference_samples:
        return
    rows = []
    for deployment_id, sample in zip(deployment_ids, batch.inference_samples, strict=True):
        values = [getattr(sample, column) for column in INFERENCE_SAMPLE_COLUMNS]
        for index in _JSON_INDEXES:
            if values[index] is not None:
                values[index] = as_json(values[index])
        rows.append((deployment_id, *values))
    _insert_rows(InferenceSample, ("deployment_id", *INFERENCE_SAMPLE_COLUMNS), rows)


_JSON_INDEXES = [INFERENCE_SAMPLE_COLUMNS.index(c) for c in JSON_COLUMNS]


def _insert_rows(model: Any, columns: Sequence[str], rows: list[tuple[Any, ...]]) -> None:
    """Insert rows, keeping the stored row where one exists for the same entity and ts."""
    quote = connection.ops.quote_name
    table = quote(model._meta.db_table)
    names = ", ".join(quote(c) for c in columns)
    if connection.vendor != "postgresql":
        ts = columns.index("ts")
        params = [(*r[:ts], param(r[ts]), *r[ts + 1 :]) for r in rows]
        marks = ", ".join(["%s"] * len(columns))
        sql = f"INSERT INTO {table} ({names}) VALUES ({marks}) ON CONFLICT DO NOTHING"
        with connection.cursor() as cursor:
            cursor.executemany(sql, params)
        return
    # In (entity, ts) order: two batches overlapping in opposite orders would
    # otherwise deadlock on the unique index.
    rows.sort(key=_entity_and_ts)
    types = _column_types(model, tuple(columns))
    try:
        # Binary COPY: psycopg packs numbers without formatting them as text,
        # which is most of the cost of a row. COPY cannot skip rows that are
        # stored already, so a batch that repeats some takes the slower path.
        with transaction.atomic():
            _copy(f"COPY {table} ({names}) FROM STDIN (FORMAT BINARY)", types, rows)
    except IntegrityError as exc:
        if not isinstance(exc.__cause__, UniqueViolation):
            raise
        staging = quote(f"ingest_{model._meta.db_table}")
        with connection.cursor() as cursor:
            cursor.execute(
                f"CREATE TEMP TABLE IF NOT EXISTS {staging} ON COMMIT DELETE ROWS"
                f" AS SELECT {names} FROM {table} WITH NO DATA"
            )
            _copy(f"COPY {staging} ({names}) FROM STDIN (FORMAT BINARY)", types, rows)
            cursor.execute(
                f"INSERT INTO {table} ({names}) SELECT {names} FROM {staging}"
                " ON CONFLICT DO NOTHING"
            )
            cursor.execute(f"TRUNCATE {staging}")


def _entity_and_ts(row: tuple[Any, ...]) -> tuple[int, datetime]:
    return row[0], row[1]


def _copy(sql: str, types: list[str], rows: list[tuple[Any, ...]]) -> None:
    # The COPY goes through psycopg's own cursor: wrap_database_errors gives its
    # errors Django's classes, as every other query here has.
    with (
        connection.wrap_database_errors,
        connection.cursor() as cursor,
        cursor.cursor.copy(sql) as copy,
    ):
        copy.set_types(types)
        for row in rows:
            copy.write_row(row)


@functools.cache
def _column_types(model: Any, columns: tuple[str, ...]) -> list[str]:
    by_column = {f.column: f for f in model._meta.concrete_fields}
    return [by_column[c].db_type(connection) for c in columns]


def _record_span(batch: Batch) -> None:
    """Tell the rollup job which time the batch's samples cover.

    One plain insert per batch, with no unique key, so concurrent batches never
    wait on each other here; the job merges the spans.
    """
    stamps = [s.ts for s in batch.gpu_samples] + [s.ts for s in batch.inference_samples]
    if stamps:
        SampleSpan.objects.create(start=min(stamps), end=max(stamps))


def _touch_agent(agent: Agent, batch: Batch, now: datetime) -> None:
    update: dict[str, Any] = {}
    if batch.agent_version and batch.agent_version != agent.version:
        update["version"] = batch.agent_version
    stats = batch.agent_stats
    if stats is not None and stats.dropped_samples > agent.dropped_samples:
        # A cumulative count: retried or reordered batches can only raise it.
        update["dropped_samples"] = stats.dropped_samples
        logger.warning(
            "agent %s dropped %d samples in total (its spool was full)",
            agent.name,
            stats.dropped_samples,
        )
    # Last-seen is read in minutes; writing it for every batch would make an
    # agent's concurrent batches queue on the agent row's lock.
    stale = agent.last_seen_at is None or now - agent.last_seen_at >= LAST_SEEN_RESOLUTION
    if stale or update:
        Agent.objects.filter(pk=agent.pk).update(last_seen_at=now, **update)
