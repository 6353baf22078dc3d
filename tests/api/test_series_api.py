"""/api/v1/samples/…, rollups/…, cost-records: ranges, filters, granularity, cursor pages."""

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from collectors.models import Gpu, GpuSample, InferenceSample
from inferscope.lib.drf.pagination import TimeCursorPagination
from telemetry.models import GpuRollup, InferenceRollup
from tests.api.fleet import T0, V1, cost_records, day, errors, gpu_samples

pytestmark = pytest.mark.django_db


def results(response: Any) -> list[dict[str, Any]]:
    assert response.status_code == 200, response.content
    return response.json()["results"]


def test_raw_gpu_samples_in_a_range_oldest_first(reader, fleet):
    gpu_samples(fleet)
    rows = results(reader.get(V1 + "samples/gpu", day()))
    assert len(rows) == 9
    assert [(r["ts"], r["gpu_uuid"]) for r in rows[:4]] == [
        ("2026-03-02T00:00:00Z", "g-0"),
        ("2026-03-02T00:00:00Z", "g-1"),
        ("2026-03-02T00:00:00Z", "g-2"),
        ("2026-03-02T00:01:00Z", "g-0"),
    ]
    assert rows[4]["util_gpu"] == 11.0 and rows[4]["power_w"] == 100.0
    assert rows[4]["temp_c"] is None  # not measured: null, never 0
    # The start is in the range, the end is not.
    window = {"start": "2026-03-02T00:01:00Z", "end": "2026-03-02T00:02:00Z"}
    assert {r["ts"] for r in results(reader.get(V1 + "samples/gpu", window))} == {
        "2026-03-02T00:01:00Z"
    }


def test_a_series_without_a_range_reads_the_latest_default_window(reader, fleet):
    now = datetime.now(UTC).replace(microsecond=0)
    gpu = fleet["gpus"][0]
    for ago in (timedelta(minutes=10), timedelta(hours=2)):
        GpuSample.objects.create(gpu=gpu, ts=now - ago)
    assert len(results(reader.get(V1 + "samples/gpu"))) == 1  # raw: the last hour
    # A start alone reads the default window from there.
    start = (now - timedelta(hours=2, minutes=1)).isoformat()
    assert len(results(reader.get(V1 + "samples/gpu", {"start": start}))) == 1
    for hours_ago in (1, 30):
        bucket = (now - timedelta(hours=hours_ago)).replace(minute=0, second=0)
        GpuRollup.objects.create(gpu=gpu, resolution=3600, bucket=bucket, samples=1, present_s=3600)
    assert len(results(reader.get(V1 + "rollups/gpu"))) == 2  # hours: the last 7 days
    assert len(results(reader.get(V1 + "rollups/gpu", {"granularity": "minute"}))) == 0


def test_gpu_sample_filters(reader, fleet):
    gpu_samples(fleet, minutes=1)
    chat = fleet["deployments"][0]

    def uuids(**params: Any) -> list[str]:
        return [r["gpu_uuid"] for r in results(reader.get(V1 + "samples/gpu", day(**params)))]

    assert uuids(gpu="g-1") == ["g-1"]
    assert uuids(gpu=str(fleet["gpus"][2].pk)) == ["g-2"]
    assert uuids(node="node-1") == ["g-0", "g-1"]
    assert uuids(deployment=chat.pk) == ["g-0"]
    assert uuids(deployment="embed", node="node-2") == []
    assert uuids(label="team:search") == ["g-0"]
    assert uuids(label="team:infra") == ["g-2"]
    assert uuids(label="team:nobody") == []


def test_inference_samples_and_their_filters(reader, fleet):
    for i, deployment in enumerate(fleet["deployments"]):
        InferenceSample.objects.create(
            deployment=deployment,
            ts=T0 + timedelta(seconds=i),
            interval_s=10.0,
            requests_ok=5 + i,
            ttft_hist={"bounds": [0.1], "counts": [3, 1], "sum": 0.5},
        )

    def named(**params: Any) -> list[str]:
        rows = results(reader.get(V1 + "samples/inference", day(**params)))
        return [r["deployment_name"] for r in rows]

    assert named() == ["chat", "embed", "batch"]
    assert named(deployment="batch") == ["batch"]
    assert named(gpu="g-1") == ["embed"]
    assert named(node="node-1", label="team:ads") == ["embed"]
    assert named(label="team:infra") == ["batch"]
    row = results(reader.get(V1 + "samples/inference", day(deployment="chat")))[0]
    assert row["ttft_hist"] == {"bounds": [0.1], "counts": [3, 1], "sum": 0.5}
    assert row["requests_ok"] == 5 and row["ts"] == "2026-03-02T00:00:00Z"


def test_rollups_by_granularity_with_their_averages(reader, fleet):
    gpu = fleet["gpus"][0]
    for resolution in (60, 3600, 86400):
        GpuRollup.objects.create(
            gpu=gpu, resolution=resolution, bucket=T0, samples=6, present_s=60.0,
            util_sum=300.0, util_n=6, util_max=90.0, power_sum=0, power_n=0,
        )  # fmt: skip
    for name, seconds in (("minute", 60), ("hour", 3600), ("day", 86400)):
        [row] = results(reader.get(V1 + "rollups/gpu", day(granularity=name)))
        assert row["resolution_s"] == seconds and row["bucket"] == "2026-03-02T00:00:00Z"
        assert row["util_avg"] == 50.0 and row["util_max"] == 90.0
        assert row["power_avg"] is None  # nothing measured, not 0
    [row] = results(reader.get(V1 + "rollups/gpu", day()))
    assert row["resolution_s"] == 3600  # hour unless asked


def test_inference_rollups(reader, fleet):
    chat, embed, _ = fleet["deployments"]
    for deployment in (chat, embed):
        InferenceRollup.objects.create(
            deployment=deployment, resolution=3600, bucket=T0, samples=360, present_s=3600,
            requests_ok=100, kv_cache_sum=36.0, kv_cache_n=360,
        )  # fmt: skip
    [row] = results(reader.get(V1 + "rollups/inference", day(label="team:ads")))
    assert row["deployment_name"] == "embed" and row["requests_ok"] == 100
    assert row["kv_cache_avg"] == pytest.approx(0.1)


def test_cost_records_and_their_filters(reader, fleet):
    cost_records(fleet)

    def usd(**params: Any) -> list[tuple[str | None, str]]:
        rows = results(reader.get(V1 + "cost-records", day(**params)))
        return [(r["deployment_name"], r["usd"]) for r in rows]

    assert usd() == [("chat", "1.250000"), (None, "0.750000"), ("batch", "2.000000")]
    assert usd(idle="true") == [(None, "0.750000")]
    assert usd(idle="false") == [("chat", "1.250000"), ("batch", "2.000000")]
    assert usd(deployment="batch") == [("batch", "2.000000")]
    assert usd(node="node-1") == [("chat", "1.250000"), (None, "0.750000")]
    # A label: its deployments' shares and its GPUs' idle time.
    assert usd(label="team:search") == [("chat", "1.250000"), (None, "0.750000")]
    row = results(reader.get(V1 + "cost-records", day(gpu="g-2")))[0]
    assert row["hour"] == "2026-03-02T00:00:00Z" and row["node_name"] == "node-2"
    assert row["rate_usd_per_hour"] == "2.000000" and row["priced"] is True


@pytest.mark.parametrize(
    ("path", "params", "field"),
    [
        ("samples/gpu", {"start": "2026-02-30T00:00"}, "start"),
        ("samples/gpu", {"start": "2026-03-02T00:00", "end": "2026-03-01T23:00"}, "end"),
        ("samples/gpu", {"start": "2026-01-01T00:00", "end": "2026-02-01T00:01"}, "start"),
        ("samples/inference", {"end": "2026-03-02T00:00", "start": "2026-01-01"}, "start"),
        (
            "rollups/gpu",
            {"granularity": "minute", "start": "2026-01-01", "end": "2026-02-05"},
            "start",
        ),
        ("rollups/gpu", {"start": "2025-01-01", "end": "2026-03-01"}, "start"),
        ("rollups/gpu", {"granularity": "week"}, "granularity"),
        ("rollups/inference", {"granularity": "raw"}, "granularity"),
        ("cost-records", {"idle": "maybe"}, "idle"),
        ("cost-records", {"label": "team"}, "label"),
        ("cost-records", {"start": "2026-03-02T00:00:00+25:00"}, "start"),
        ("samples/gpu", {"cursor": "bm90LWEtY3Vyc29y"}, "cursor"),
        ("samples/gpu", {"cursor": "%%%"}, "cursor"),
    ],
)
def test_bad_series_queries_get_400_with_field_errors(reader, fleet, path, params, field):
    found = errors(reader.get(V1 + path, params))
    assert field in found, found


def test_long_ranges_of_coarse_data_are_allowed(reader, fleet):
    year = {"start": "2025-03-02T00:00:00Z", "end": "2026-03-02T00:00:00Z"}
    assert reader.get(V1 + "rollups/gpu", {**year, "granularity": "day"}).status_code == 200
    assert reader.get(V1 + "cost-records", year).status_code == 200
    month = {"start": "2026-01-30T00:00:00Z", "end": "2026-03-02T00:00:00Z"}
    assert reader.get(V1 + "samples/gpu", month).status_code == 200


def test_the_cursor_walks_past_a_thousand_rows_of_one_instant(reader, fleet):
    """More rows share a time than DRF's cursor offset allows: every row once, in order."""
    node = fleet["nodes"][0]
    gpus = Gpu.objects.bulk_create(Gpu(node=node, uuid=f"x-{i:04d}") for i in range(1_100))
    gpus = list(Gpu.objects.filter(uuid__startswith="x-"))
    GpuSample.objects.bulk_create(GpuSample(gpu=gpu, ts=T0) for gpu in gpus)
    GpuSample.objects.create(gpu=gpus[0], ts=T0 - timedelta(seconds=1))
    page = reader.get(V1 + "samples/gpu", day(start="2026-03-01T23:00:00Z", page_size=400))
    seen: list[tuple[str, int]] = []
    pages = 0
    while True:
        body = page.json()
        assert len(body["results"]) <= 400
        seen += [(row["ts"], row["id"]) for row in body["results"]]
        pages += 1
        if body["next"] is None:
            break
        page = reader.get(body["next"])
    assert pages == 3 and len(seen) == 1_101 and len(set(seen)) == 1_101
    assert seen == sorted(seen) and seen[0][0] == "2026-03-01T23:59:59Z"


def test_page_size_over_the_maximum_is_capped(reader, fleet, monkeypatch):
    gpu_samples(fleet, minutes=10)
    assert len(results(reader.get(V1 + "samples/gpu", day()))) == 30
    monkeypatch.setattr(TimeCursorPagination, "max_page_size", 7)
    body = reader.get(V1 + "samples/gpu", day(page_size=100_000)).json()
    assert len(body["results"]) == 7 and "cursor=" in body["next"]
    for junk in ("0", "-5", "ten", "9" * 50):
        rows = results(reader.get(V1 + "samples/gpu", day(page_size=junk)))
        assert len(rows) == 30  # the default page size, 500


@pytest.mark.parametrize(
    "raw",
    [b"0001-01-01T00:00:00+14:00|1", b"9999-12-31T23:59:59-14:00|1", b"1999-12-31T23:00:00|1"],
)
def test_a_cursor_out_of_range_is_a_400_not_a_500(client, owner, raw):
    import base64

    client.force_login(owner)
    cursor = base64.urlsafe_b64encode(raw).decode().rstrip("=")
    response = client.get("/api/v1/samples/gpu", {"cursor": cursor})
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "cursor"
