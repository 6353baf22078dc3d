"""The few SQL fragments and parameters that differ between PostgreSQL and SQLite,
for the raw queries of the hot paths (ingest, rollups, scoring)."""

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import msgspec
from django.db import connection
from psycopg.types.json import Jsonb

_SQLITE_TRUNC = {60: "%Y-%m-%d %H:%M:00", 3600: "%Y-%m-%d %H:00:00", 86400: "%Y-%m-%d 00:00:00"}
_PG_TRUNC = {60: "minute", 3600: "hour", 86400: "day"}


def trunc(column: str, resolution: int) -> str:
    if connection.vendor == "postgresql":
        return f"date_trunc('{_PG_TRUNC[resolution]}', {column})"
    return f"strftime('{_SQLITE_TRUNC[resolution]}', {column})"


def seconds(later: str, earlier: str) -> str:
    if connection.vendor == "postgresql":
        return f"EXTRACT(EPOCH FROM ({later} - {earlier}))"
    # julianday() carries ~50 us of float error; samples are not stamped finer than 1 ms.
    return f"ROUND((julianday({later}) - julianday({earlier})) * 86400.0, 3)"


def least(a: str, b: str) -> str:
    return f"LEAST({a}, {b})" if connection.vendor == "postgresql" else f"MIN({a}, {b})"


def epoch(column: str) -> str:
    """A timestamp column as unix seconds (cheaper to fetch than a parsed datetime)."""
    if connection.vendor == "postgresql":
        return f"EXTRACT(EPOCH FROM {column})::float8"
    return f"ROUND((julianday({column}) - 2440587.5) * 86400.0)"


def placeholders(n: int) -> str:
    """n query parameters, for an IN list."""
    return ", ".join(["%s"] * n)


def fetch_all(sql: str, args: Sequence[Any]) -> list[tuple[Any, ...]]:
    with connection.cursor() as cursor:
        cursor.execute(sql, args)
        return cursor.fetchall()


def param(ts: datetime) -> Any:
    return connection.ops.adapt_datetimefield_value(ts)


def as_json(value: Any) -> Any:
    """A query parameter for a JSON column, encoded by msgspec."""
    if value is None:
        return None
    if connection.vendor == "postgresql":
        return Jsonb(value, dumps=_encode)
    return _encode(value)


def _encode(value: Any) -> str:
    return msgspec.json.encode(value).decode()


def from_json(value: Any) -> Any:
    """A JSON column read with a raw cursor (text on both backends)."""
    if value is None or not isinstance(value, str | bytes):
        return value
    return msgspec.json.decode(value)


def as_datetime(value: Any) -> datetime:
    """A timestamp read with a raw cursor: SQLite gives naive UTC (text, or a datetime
    where its converter parsed the column)."""
    if not isinstance(value, datetime):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def bucket_start(column: str, step: int) -> str:
    """A timestamp column floored to a multiple of `step` seconds since the epoch.

    Read it back with step_time(). On PostgreSQL date_bin() (14+) is ~2x cheaper
    per row than arithmetic on EXTRACT(EPOCH ...), and the result goes out as
    whole seconds: psycopg parses an integer ~20x faster than a timestamptz, and
    a 30-day heatmap returns ~23,000 of them.
    """
    step = int(step)
    if connection.vendor == "postgresql":
        return (
            f"EXTRACT(EPOCH FROM date_bin('{step} seconds', {column},"
            " TIMESTAMPTZ '1970-01-01'))::bigint"
        )
    # Not strftime('%s'): Django turns a %s in a query with parameters into a placeholder.
    seconds = f"CAST(ROUND((julianday({column}) - 2440587.5) * 86400.0) AS INTEGER)"
    return f"(({seconds} / {step}) * {step})"


def step_time(value: Any) -> datetime:
    """A bucket_start() value as an aware datetime (PostgreSQL: a timestamp; SQLite: seconds)."""
    if isinstance(value, datetime):
        return value if value.tzinfo is UTC else value.astimezone(UTC)
    return datetime.fromtimestamp(int(value), UTC)
