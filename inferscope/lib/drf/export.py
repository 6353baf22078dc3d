"""Streaming exports: a whole list as CSV or JSON, never held in memory.

Rows come from the database a chunk at a time (`.iterator(chunk_size=…)`, a
server-side cursor on PostgreSQL) and leave as text a chunk at a time, so a month of
hourly costs for 1,000 GPUs (720k rows) costs the memory of one chunk. Any app can
reuse it: `export_response(header, queryset_rows(qs, columns), "csv", "costs")`.

Cells: times as ISO 8601 in UTC (`…Z`), decimals as written, booleans as
true/false, JSON values (labels, histograms) as compact JSON, NULL as an empty cell.
"""

import csv
import io
import json
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from itertools import islice
from typing import Any

import msgspec
from django.db.models import QuerySet
from django.http import StreamingHttpResponse
from rest_framework.serializers import BaseSerializer

FORMATS = ("csv", "json")
# Rows per database round trip and per chunk sent: big enough that the per-chunk
# cost vanishes, small enough that a chunk is a few hundred kB.
CHUNK_ROWS = 2000
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def iso_utc(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def csv_cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return iso_utc(value)
    if isinstance(value, dict | list):
        return json.dumps(value, separators=(",", ":"))
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        # A name an agent reported ("=HYPERLINK(...)") would run as a formula when the
        # export is opened in a spreadsheet: a leading quote keeps it text (OWASP).
        return "'" + value
    return value  # str, int, float and Decimal print as they are


def _chunks(rows: Iterable[Sequence[Any]], size: int = CHUNK_ROWS) -> Iterator[list[Any]]:
    iterator = iter(rows)
    while chunk := list(islice(iterator, size)):
        yield chunk


def stream_csv(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> Iterator[str]:
    """The header line, then the rows a chunk at a time."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    yield buffer.getvalue()
    for chunk in _chunks(rows):
        buffer.seek(0)
        buffer.truncate()
        writer.writerows([csv_cell(value) for value in row] for row in chunk)
        yield buffer.getvalue()


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")  # as json expects


def stream_json(
    header: Sequence[str],
    rows: Iterable[Sequence[Any]],
    envelope: Mapping[str, Any] | None = None,
) -> Iterator[bytes]:
    """A JSON array of objects keyed by `header`, a chunk of objects at a time; with an
    `envelope`, an object of its keys plus the array as "results" (a page's shape)."""
    # msgspec writes aware datetimes in UTC with a Z and decimals as strings, as the
    # API's serializers do.
    encoder = msgspec.json.Encoder(enc_hook=_json_default)
    keys = list(header)
    if envelope is None:
        yield b"["
    else:
        head = encoder.encode(dict(envelope))[:-1]  # the object, still open
        yield head + (b',"results":[' if envelope else b'"results":[')
    separator = b""
    for chunk in _chunks(rows):
        yield separator + b",".join(
            encoder.encode(dict(zip(keys, row, strict=True))) for row in chunk
        )
        separator = b","
    yield b"]\n" if envelope is None else b"]}\n"


def queryset_rows(
    queryset: QuerySet[Any], columns: Mapping[str, str], chunk_size: int = CHUNK_ROWS
) -> Iterator[tuple[Any, ...]]:
    """Tuples in `columns` order (output name → ORM path), fetched a chunk at a time."""
    return queryset.values_list(*columns.values()).iterator(chunk_size=chunk_size)


def serialized_rows(
    rows: QuerySet[Any] | Iterable[Any],
    serializer_class: type[BaseSerializer[Any]],
    header: Sequence[str],
    context: Mapping[str, Any] | None = None,
    chunk_size: int = 500,
) -> Iterator[list[Any]]:
    """For lists whose rows are not flat columns (a deployment's GPUs, computed
    figures): each row through the list's serializer, with the page's context (who is
    asking), so an export shows what the page shows. A queryset is read a chunk at a
    time, its prefetches applied per chunk."""
    shared = dict(context or {})
    objects = rows.iterator(chunk_size=chunk_size) if isinstance(rows, QuerySet) else rows
    for obj in objects:
        data = serializer_class(obj, context=shared).data
        yield [data[name] for name in header]


def export_response(
    header: Sequence[str],
    rows: Iterable[Sequence[Any]],
    fmt: str,
    name: str,
    envelope: Mapping[str, Any] | None = None,
) -> StreamingHttpResponse:
    """A download of every row; `fmt` is one of FORMATS, `name` the file's stem, and
    `envelope` (JSON only) the keys around the rows, as stream_json takes them."""
    if fmt == "csv":
        response = StreamingHttpResponse(
            stream_csv(header, rows), content_type="text/csv; charset=utf-8"
        )
    else:
        response = StreamingHttpResponse(
            stream_json(header, rows, envelope), content_type="application/json"
        )
    stem = re.sub(r"[^\w.-]+", "-", name, flags=re.ASCII).strip("-") or "export"
    response["Content-Disposition"] = f'attachment; filename="{stem}.{fmt}"'
    # A proxy that buffers the whole body (nginx does by default) would undo the streaming.
    response["X-Accel-Buffering"] = "no"
    return response
