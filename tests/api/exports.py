"""Reading a streamed CSV or JSON export back into rows."""

import csv
import io
from typing import Any

from django.http import StreamingHttpResponse

from inferscope.lib.drf.export import csv_cell


def body_of(response: Any) -> bytes:
    assert response.status_code == 200, response.content
    assert isinstance(response, StreamingHttpResponse)
    return b"".join(response.streaming_content)


def parse_csv(response: Any) -> tuple[list[str], list[list[str]]]:
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    header, *rows = csv.reader(io.StringIO(body_of(response).decode()))
    return header, rows


def as_cells(row: dict[str, Any]) -> list[str]:
    """A JSON page's row as the CSV writes it."""
    return [str(csv_cell(value)) for value in row.values()]
