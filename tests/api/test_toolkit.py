"""The one list base (inferscope/lib/drf) seen through lists of different shapes:
numbered pages (the fleet, the economics period) and cursor pages (the series). They
word a bad range alike, and each one's CSV export is its JSON pages, row for row."""

import csv
import io
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import pytest
from django.contrib.auth.models import User
from django.http import StreamingHttpResponse
from django.test import Client

from collectors.models import Gpu, GpuSample, Node
from inferscope.lib.drf.export import csv_cell

pytestmark = pytest.mark.django_db

V1 = "/api/v1/"
T0 = datetime(2026, 3, 2, tzinfo=UTC)
DAY = {"start": "2026-03-02T00:00:00Z", "end": "2026-03-03T00:00:00Z"}
# A numbered list and a cursor list that both take at most 400 days, then two whose
# ranges are checked alike without a limit of their own.
LIMITED = ["economics/deployments", "cost-records"]
ANY_LIST = [*LIMITED, "gpus", "alerts/rules", "samples/gpu"]


@pytest.fixture
def logged_in(owner: User) -> Client:
    client = Client()
    client.force_login(owner)
    return client


@pytest.fixture
def samples() -> None:
    """Two nodes with five GPUs in all, each sampled every minute for three minutes."""
    nodes = [Node.objects.create(name=f"node-{n}") for n in (1, 2)]
    gpus = [
        Gpu.objects.create(node=nodes[i % 2], uuid=f"g-{i}", index=i // 2, model_name="H100")
        for i in range(5)
    ]
    GpuSample.objects.bulk_create(
        GpuSample(gpu=gpu, ts=T0 + timedelta(minutes=m), util_gpu=10.0 * m + i, power_w=300.5)
        for m in range(3)
        for i, gpu in enumerate(gpus)
    )


def errors(response: Any) -> list[dict[str, str]]:
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["detail"] == "Invalid request."
    return body["errors"]


def answers(client: Client, params: dict[str, str], paths: list[str]) -> list[Any]:
    return [errors(client.get(V1 + path, params)) for path in paths]


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"start": "yesterday"}, "start"),
        ({"end": "2026-13-01T00:00"}, "end"),
        ({"start": "1999-12-31T00:00Z"}, "start"),
        ({"start": "2026-03-02T00:00:00+25:00"}, "start"),
    ],
)
def test_a_bad_time_is_worded_alike_on_every_list(
    logged_in: Client, params: dict[str, str], expected: str
) -> None:
    first, *others = answers(logged_in, params, ANY_LIST)
    assert [error["field"] for error in first] == [expected]
    assert all(other == first for other in others), (first, others)


def test_a_time_outside_the_years_the_api_takes_names_them(logged_in: Client) -> None:
    for answer in answers(logged_in, {"start": "1999-12-31T00:00Z"}, ANY_LIST):
        assert answer == [{"field": "start", "message": "Give a time between 2000 and 2100."}]


@pytest.mark.parametrize(
    "params",
    [
        {"start": "2026-03-02T00:00Z", "end": "2026-03-01T23:00Z"},
        {"start": "2026-03-02T00:00Z", "end": "2026-03-02T00:00Z"},
    ],
)
def test_a_reversed_or_empty_range_is_worded_alike_on_every_list(
    logged_in: Client, params: dict[str, str]
) -> None:
    for answer in answers(logged_in, params, ANY_LIST):
        assert answer == [{"field": "end", "message": "The end must be after the start."}]


def test_an_over_long_range_is_worded_alike_whatever_the_pages(logged_in: Client) -> None:
    params = {"start": "2024-01-01T00:00Z", "end": "2026-01-01T00:00Z"}
    for answer in answers(logged_in, params, LIMITED):
        assert answer == [{"field": "start", "message": "A range can be at most 400 days long."}]
    # Raw samples allow less, in the same words.
    month = {"start": "2026-01-01T00:00Z", "end": "2026-02-01T00:01Z"}
    assert answers(logged_in, month, ["samples/gpu"]) == [
        [{"field": "start", "message": "A range can be at most 31 days long."}]
    ]
    # The longest range allowed is read.
    year = {"start": "2025-01-01T00:00Z", "end": "2026-02-05T00:00Z"}
    for path in LIMITED:
        assert logged_in.get(V1 + path, year).status_code == 200


def _pages(client: Client, path: str, params: dict[str, str]) -> list[dict[str, Any]]:
    """Every row of a list, following its `next` links two rows a page."""
    response = client.get(V1 + path, {**params, "page_size": "2"})
    rows: list[dict[str, Any]] = []
    while True:
        assert response.status_code == 200, response.content
        body = response.json()
        assert len(body["results"]) <= 2
        rows += body["results"]
        if body["next"] is None:
            return rows
        response = client.get(body["next"])


def _body(response: Any) -> bytes:
    assert response.status_code == 200, response.content
    assert isinstance(response, StreamingHttpResponse)
    return b"".join(cast(Iterator[bytes], response.streaming_content))


@pytest.mark.parametrize(("path", "params"), [("gpus", {}), ("samples/gpu", DAY)])
def test_the_csv_export_of_a_list_is_its_json_pages(
    logged_in: Client, samples: None, path: str, params: dict[str, str]
) -> None:
    rows = _pages(logged_in, path, params)
    assert len(rows) == (5 if path == "gpus" else 15)
    response = logged_in.get(V1 + path, {**params, "format": "csv"})
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    header, *cells = csv.reader(io.StringIO(_body(response).decode()))
    assert header == list(rows[0])
    assert cells == [[str(csv_cell(value)) for value in row.values()] for row in rows]


@pytest.mark.parametrize(
    ("path", "params", "envelope"),
    [
        ("gpus", {}, {"count": 5, "next": None, "previous": None}),
        ("samples/gpu", DAY, {"next": None}),
    ],
)
def test_the_json_export_of_a_list_is_its_pages_in_a_pages_shape(
    logged_in: Client,
    samples: None,
    path: str,
    params: dict[str, str],
    envelope: dict[str, Any],
) -> None:
    rows = _pages(logged_in, path, params)
    exported = json.loads(_body(logged_in.get(V1 + path, {**params, "format": "json"})))
    assert exported == {**envelope, "results": rows}
