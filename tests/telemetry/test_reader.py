"""The one inference rollup reader: rows per deployment and bucket, merged exactly."""

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from collectors.models import Deployment, Node
from telemetry.choices import Resolution
from telemetry.models import InferenceRollup
from telemetry.reader import inference_buckets, inference_merged

H0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
H1 = H0 + timedelta(hours=1)
H2 = H0 + timedelta(hours=2)
MINUTE = timedelta(minutes=1)
BOUNDS = [0.1, 0.5, 1.0]


def hist(*counts: int, total: float) -> dict[str, Any]:
    return {"bounds": BOUNDS, "counts": list(counts), "sum": total}


def rollup(dep: Deployment, bucket: datetime, **fields: Any) -> None:
    resolution = fields.pop("resolution", Resolution.MINUTE)
    InferenceRollup.objects.create(
        deployment=dep, resolution=resolution, bucket=bucket, samples=6, present_s=60.0, **fields
    )


@pytest.fixture
def fleet(db: None) -> dict[str, Deployment]:
    """Deployments a and b with minute rollups over H0..H2, and rows the window or the
    resolution leaves out: one minute before H0, one at H2, and an hourly row."""
    node = Node.objects.create(name="node-1")
    a = Deployment.objects.create(node=node, name="a")
    b = Deployment.objects.create(node=node, name="b")
    rollup(a, H0, requests_ok=10, running_max=3.0, ttft_hist=hist(4, 5, 1, 0, total=2.0))
    rollup(a, H0 + 30 * MINUTE, requests_ok=5, requests_error=1, running_max=None)
    rollup(
        a, H0 + 59 * MINUTE, requests_ok=6, running_max=7.0, ttft_hist=hist(6, 3, 1, 0, total=3.5)
    )
    rollup(a, H1, requests_ok=2, ttft_hist=hist(0, 0, 1, 1, total=2.5))
    rollup(b, H1 + 59 * MINUTE, requests_ok=1, ttft_hist=hist(1, 0, 0, 0, total=0.05))
    rollup(a, H0 - MINUTE, requests_ok=1000, ttft_hist=hist(0, 0, 0, 9, total=99.0))
    rollup(b, H2, requests_ok=1000)
    rollup(a, H0, resolution=Resolution.HOUR, requests_ok=23)
    return {"a": a, "b": b}


def test_it_reads_every_bucket_of_one_resolution_in_start_to_end(
    fleet: dict[str, Deployment],
) -> None:
    a, b = fleet["a"], fleet["b"]
    rows = inference_buckets(
        Resolution.MINUTE, H0, H2, columns=("requests_ok",), histograms=("ttft_hist",)
    )
    assert [(r.deployment_id, r.bucket, r["requests_ok"]) for r in rows] == [
        (a.pk, H0, 10),
        (a.pk, H0 + 30 * MINUTE, 5),
        (a.pk, H0 + 59 * MINUTE, 6),
        (a.pk, H1, 2),
        (b.pk, H1 + 59 * MINUTE, 1),
    ]
    assert rows[0].bucket.tzinfo is UTC
    assert rows[0]["ttft_hist"] == hist(4, 5, 1, 0, total=2.0)
    assert rows[1]["ttft_hist"] is None
    [hourly] = inference_buckets(Resolution.HOUR, H0, H2, columns=("requests_ok",))
    assert (hourly.bucket, hourly["requests_ok"]) == (H0, 23)


def test_it_reads_only_the_deployments_asked_for(fleet: dict[str, Deployment]) -> None:
    b = fleet["b"]
    rows = inference_buckets(Resolution.MINUTE, H0, H2, [b.pk], columns=("requests_ok",))
    assert [(r.deployment_id, r["requests_ok"]) for r in rows] == [(b.pk, 1)]
    assert inference_buckets(Resolution.MINUTE, H0, H2, [], columns=("requests_ok",)) == []


def test_it_merges_buckets_into_steps_exactly(fleet: dict[str, Deployment]) -> None:
    a, b = fleet["a"], fleet["b"]
    merged = inference_merged(
        Resolution.MINUTE,
        H0,
        H2,
        3600,
        columns=("requests_ok", "requests_error", "requests_aborted", "running_max"),
        histograms=("ttft_hist",),
    )
    first, second = merged[a.pk][H0], merged[a.pk][H1]
    assert first.values == {
        "requests_ok": 21,
        "requests_error": 1,
        "requests_aborted": 0,
        "running_max": 7.0,  # the minute with no running_max does not count as 0
    }
    assert first.requests == 22
    # 4+6, 5+3, 1+1, 0+0; the minute with no histogram adds nothing.
    assert first["ttft_hist"] == hist(10, 8, 2, 0, total=5.5)
    assert second.values == {
        "requests_ok": 2,
        "requests_error": 0,
        "requests_aborted": 0,
        "running_max": None,
    }
    assert second["ttft_hist"] == hist(0, 0, 1, 1, total=2.5)
    assert list(merged[b.pk]) == [H1]
    # 20 observations: the 19th lies halfway through the (0.5, 1.0] bucket's two.
    assert first.p("ttft_hist", 0.95) == pytest.approx(0.75)
    assert first.p("ttft_hist", 0.5) == pytest.approx(0.1)
    assert first.observations("ttft_hist") == 20
    assert first.share_within("ttft_hist", 0.5) == pytest.approx(18 / 20)


def test_a_step_of_zero_adds_up_the_whole_window(fleet: dict[str, Deployment]) -> None:
    a = fleet["a"]
    merged = inference_merged(
        Resolution.MINUTE, H0, H2, 0, [a.pk], columns=("requests_ok",), histograms=("ttft_hist",)
    )
    [(at, window)] = merged[a.pk].items()
    assert at == H0 and window.deployment_id == a.pk
    assert window["requests_ok"] == 23
    assert window["ttft_hist"] == hist(10, 8, 3, 1, total=8.0)


def test_the_window_end_is_exclusive_and_its_start_inclusive(fleet: dict[str, Deployment]) -> None:
    a = fleet["a"]
    rows = inference_buckets(
        Resolution.MINUTE, H0 + 30 * MINUTE, H1, [a.pk], columns=("requests_ok",)
    )
    assert [r.bucket for r in rows] == [H0 + 30 * MINUTE, H0 + 59 * MINUTE]


def test_it_refuses_a_name_that_is_not_a_rollup_counter_or_histogram(db: None) -> None:
    with pytest.raises(ValueError, match="bucket; DROP"):
        inference_buckets(Resolution.MINUTE, H0, H1, columns=("bucket; DROP",))
    with pytest.raises(ValueError, match="gpu_memory"):
        inference_buckets(Resolution.MINUTE, H0, H1, histograms=("gpu_memory",))
