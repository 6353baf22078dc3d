"""?format=csv|json: every row the filters leave, streamed, equal to the JSON pages."""

import itertools
import json
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client

from api.selectors import (
    GPU_ROLLUP_COLUMNS,
    GPU_SAMPLE_COLUMNS,
    INFERENCE_ROLLUP_COLUMNS,
    INFERENCE_SAMPLE_COLUMNS,
)
from api.serializers import (
    GpuRollupSerializer,
    GpuSampleSerializer,
    InferenceRollupSerializer,
    InferenceSampleSerializer,
)
from collectors.models import GpuSample, InferenceSample
from costs.records import COST_RECORD_COLUMNS, CostRecordSerializer
from inferscope.lib.drf.export import csv_cell, export_response
from telemetry.models import GpuRollup, InferenceRollup
from tests.api.exports import as_cells, body_of, parse_csv
from tests.api.fleet import (
    FLEET,
    SERIES,
    T0,
    V1,
    cost_records,
    day,
    errors,
    gpu_samples,
    make_fleet,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def fleet() -> dict[str, Any]:
    data = make_fleet()
    gpu_samples(data, minutes=4)
    chat, embed, _ = data["deployments"]
    for i, deployment in enumerate((chat, embed)):
        InferenceSample.objects.create(
            deployment=deployment, ts=T0 + timedelta(seconds=i), interval_s=10.0,
            requests_ok=3, running=None, ttft_hist={"bounds": [0.1], "counts": [1, 0], "sum": 0.05},
            gpu_memory={"g-0": 1024},
        )  # fmt: skip
        InferenceRollup.objects.create(
            deployment=deployment, resolution=3600, bucket=T0, samples=360, present_s=3600.0,
            kv_cache_sum=3.6, kv_cache_n=360,
        )  # fmt: skip
    GpuRollup.objects.create(
        gpu=data["gpus"][0], resolution=3600, bucket=T0, samples=360, present_s=3600.0,
        util_sum=123.4, util_n=7, util_max=99.5, mem_used_max=2**40,
    )  # fmt: skip
    cost_records(data)
    return data


@pytest.mark.parametrize("path", FLEET + SERIES)
def test_csv_parsed_back_equals_the_json_pages(reader, fleet, path):
    params = day() if path in SERIES else {}
    page = reader.get(V1 + path, params).json()["results"]
    assert page, "the fixture should give every list rows"
    header, rows = parse_csv(reader.get(V1 + path, {**params, "format": "csv"}))
    assert header == list(page[0])
    assert rows == [as_cells(row) for row in page]


@pytest.mark.parametrize("path", FLEET + SERIES)
def test_json_export_streams_the_rows_of_the_pages(reader, fleet, path):
    params = day() if path in SERIES else {}
    page = reader.get(V1 + path, params).json()["results"]
    response = reader.get(V1 + path, {**params, "format": "json"})
    assert response["Content-Type"] == "application/json"
    exported = json.loads(body_of(response))
    # A page's shape, every row in it and no next page.
    assert exported["results"] == page and exported["next"] is None
    if path in FLEET:
        assert exported["count"] == len(page) and exported["previous"] is None


@pytest.mark.parametrize(
    ("columns", "serializer"),
    [
        (GPU_SAMPLE_COLUMNS, GpuSampleSerializer),
        (INFERENCE_SAMPLE_COLUMNS, InferenceSampleSerializer),
        (GPU_ROLLUP_COLUMNS, GpuRollupSerializer),
        (INFERENCE_ROLLUP_COLUMNS, InferenceRollupSerializer),
        (COST_RECORD_COLUMNS, CostRecordSerializer),
    ],
)
def test_export_columns_are_the_serializers_fields(columns, serializer):
    assert list(columns) == list(serializer().fields)


def test_csv_cells_by_hand(reader, fleet):
    header, rows = parse_csv(reader.get(V1 + "rollups/gpu", day(format="csv")))
    row = dict(zip(header, rows[0], strict=True))
    assert row["bucket"] == "2026-03-02T00:00:00Z" and row["gpu_uuid"] == "g-0"
    assert float(row["util_avg"]) == pytest.approx(123.4 / 7)
    assert row["power_avg"] == "" and row["mem_used_max"] == str(2**40)
    header, rows = parse_csv(reader.get(V1 + "cost-records", day(format="csv", idle="true")))
    [row] = [dict(zip(header, r, strict=True)) for r in rows]
    assert row["usd"] == "0.750000" and row["deployment"] == ""
    assert row["idle_held_usd"] == "0.000000" and row["idle_held_hours"] == "0.0"
    header, rows = parse_csv(reader.get(V1 + "samples/inference", day(format="csv")))
    row = dict(zip(header, rows[0], strict=True))
    assert json.loads(row["ttft_hist"]) == {"bounds": [0.1], "counts": [1, 0], "sum": 0.05}
    assert row["running"] == ""


def test_an_export_is_every_row_not_a_page(reader, fleet):
    node = fleet["nodes"][0]
    gpus = fleet["gpus"][:2]
    GpuSample.objects.bulk_create(
        GpuSample(gpu=gpus[i % 2], ts=T0 + timedelta(hours=1, seconds=i // 2)) for i in range(1_200)
    )
    params = day(node=node.name, page_size=10, cursor="ignored")
    _, rows = parse_csv(reader.get(V1 + "samples/gpu", {**params, "format": "csv"}))
    assert len(rows) == 1_200 + 8  # the fixture's 4 minutes of node-1's 2 GPUs
    assert [r[3] for r in rows] == sorted(r[3] for r in rows)


def test_an_export_keeps_the_filters_and_limits(reader, fleet):
    response = reader.get(V1 + "samples/gpu", day(format="csv", gpu="g-2"))
    _, rows = parse_csv(response)
    assert {row[2] for row in rows} == {"g-2"}
    assert response["Content-Disposition"] == (
        'attachment; filename="gpu-samples-20260302T0000Z-20260303T0000Z.csv"'
    )
    too_long = {"start": "2026-01-01", "end": "2026-03-01", "format": "csv"}
    assert "start" in errors(reader.get(V1 + "samples/gpu", too_long))
    assert Client().get(V1 + "cost-records", day(format="csv")).status_code == 401


def test_an_empty_export_is_its_header(reader, fleet):
    header, rows = parse_csv(reader.get(V1 + "cost-records", day(format="csv", gpu="none")))
    assert header == list(COST_RECORD_COLUMNS) and rows == []
    empty = reader.get(V1 + "cost-records", day(format="json", gpu="none"))
    assert json.loads(body_of(empty)) == {"next": None, "results": []}


def test_the_writer_pulls_rows_as_it_sends(db):
    """An endless row source still answers: the writer never lists its rows."""
    endless = ((i, f"row {i}", None) for i in itertools.count())
    response = export_response(["n", "text", "none"], endless, "csv", "endless")
    chunks = iter(response.streaming_content)
    assert next(chunks) == b"n,text,none\r\n"
    first = next(chunks).decode().splitlines()
    assert first[0] == "0,row 0," and len(first) == 2000
    endless_json = ((i,) for i in itertools.count())
    chunks = iter(export_response(["n"], endless_json, "json", "x").streaming_content)
    assert next(chunks) == b"[" and next(chunks).startswith(b'{"n":0},{"n":1}')


def test_a_json_envelope_wraps_the_rows_as_results(db):
    for envelope, expected in (({}, {}), ({"count": 2, "next": None}, {"count": 2, "next": None})):
        response = export_response(["n"], iter([(1,), (2,)]), "json", "x", envelope)
        body = json.loads(b"".join(response.streaming_content))
        assert body == {**expected, "results": [{"n": 1}, {"n": 2}]}


def test_a_name_that_looks_like_a_formula_stays_text():

    assert csv_cell('=HYPERLINK("http://x")') == '\'=HYPERLINK("http://x")'
    assert [csv_cell(v) for v in ("+1", "-x", "@a", "\tz", "chat-8b")] == [
        "'+1", "'-x", "'@a", "'\tz", "chat-8b",
    ]  # fmt: skip
    assert csv_cell(-3) == -3  # numbers stay numbers
