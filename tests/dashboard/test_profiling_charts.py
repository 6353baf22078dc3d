"""The profiling chart builders, on unsaved rows: what each trace holds, and when a
builder gives up so the page shows its empty state."""

import json
from typing import Any

import pytest

from dashboard.charts.memory import memory_vs_batch
from dashboard.charts.pareto import throughput_vs_latency
from dashboard.charts.setting_cost import cost_per_setting
from profiling.models import ProfilingJob, ProfilingResult
from tests.dashboard.profiling_data import GIB, failed, result

JOB = ProfilingJob()


def figure(div: str | None) -> dict[str, Any]:
    """The data and layout that the div hands to Plotly.newPlot."""
    assert div is not None
    start = div.index("Plotly.newPlot(")
    text = div[div.index(",", start) + 1 :].lstrip()
    decoder = json.JSONDecoder()
    data, end = decoder.raw_decode(text)
    layout, _ = decoder.raw_decode(text[end:].lstrip(" ,\n"))
    return {"data": data, "layout": layout}


def small() -> list[ProfilingResult]:
    return [
        result(JOB, 0, "none", 1, 10.0, 20.0, 100.0, 2.0, 2.0),
        result(JOB, 1, "none", 8, 12.0, 60.0, 660.0, 0.4, 3.0),
        result(JOB, 2, "int8", 1, 8.0, 25.0, 125.0, 1.8, 1.0),
        failed(JOB, 3, "none", "oom", "CUDA out of memory"),
    ]


def test_throughput_chart_has_a_trace_per_setting_the_front_and_the_marked_point() -> None:
    rows = small()
    fig = figure(throughput_vs_latency({"": rows}, "t", front=[rows[2], rows[1]], marked=[rows[1]]))
    names = [t["name"] for t in fig["data"]]
    assert names == ["bf16 flash", "bf16 int8 flash", "Pareto front", "cheapest meeting the target"]
    assert fig["data"][0]["x"] == [10.0, 12.0] and fig["data"][0]["y"] == [100.0, 660.0]
    assert fig["data"][2]["mode"] == "lines"
    assert fig["data"][3]["marker"]["symbol"] == "star"


def test_throughput_chart_gives_up_without_a_measured_point() -> None:
    assert throughput_vs_latency({"": [failed(JOB, 0, "none", "oom", "")]}, "t") is None
    assert throughput_vs_latency({}, "t") is None


def test_out_of_memory_points_sit_at_the_device_memory_when_peaks_come_near_it() -> None:
    rows = small()
    rows[1].peak_memory_bytes = 60 * GIB
    fig = figure(memory_vs_batch(rows, device_memory_bytes=80 * GIB))
    oom = fig["data"][-1]
    assert oom["name"] == "out of memory" and oom["marker"]["symbol"] == "x"
    assert oom["x"] == [128] and oom["y"] == [80.0]
    assert oom["text"] == ["out of memory: bf16 flash · batch 128 · prompt 128 · gen 32"]
    assert fig["layout"]["shapes"][0]["y0"] == 80.0  # the device's memory drawn as a line


def test_out_of_memory_points_sit_just_above_small_peaks_on_a_big_gpu() -> None:
    fig = figure(memory_vs_batch(small(), device_memory_bytes=80 * GIB))
    assert fig["data"][-1]["y"] == [3.45]  # 3 GiB x 1.15, not 80
    assert fig["layout"]["shapes"] == []
    assert memory_vs_batch([]) is None


def test_cost_chart_groups_bars_by_batch_size_and_gives_up_unpriced() -> None:
    fig = figure(cost_per_setting(small()))
    assert [t["name"] for t in fig["data"]] == ["bf16 flash", "bf16 int8 flash"]
    assert fig["data"][0]["x"] == ["batch 1", "batch 8"] and fig["data"][0]["y"] == [2.0, 0.4]
    assert fig["layout"]["barmode"] == "group"
    unpriced = small()
    for r in unpriced:
        r.usd_per_1m_tokens = None
    assert cost_per_setting(unpriced) is None


def test_cost_chart_of_one_request_shape_leaves_the_others_out() -> None:
    rows = [*small(), result(JOB, 4, "none", 1, 11.0, 90.0, 95.0, 0.35, 2.0, prompt=1024)]
    both = figure(cost_per_setting(rows))
    assert [t["name"] for t in both["data"]] == [
        "bf16 flash · 128+32",
        "bf16 int8 flash · 128+32",
        "bf16 flash · 1024+32",
    ]
    fig = figure(cost_per_setting(rows, (1024, 32)))
    assert [t["name"] for t in fig["data"]] == ["bf16 flash"]
    assert fig["data"][0]["y"] == [0.35]
    assert figure(cost_per_setting(rows, (128, 32)))["data"][0]["y"] == [2.0, 0.4]
    assert cost_per_setting(rows, (512, 32)) is None


@pytest.mark.parametrize("memory", [None, 0])
def test_no_device_memory_draws_no_line(memory: int | None) -> None:
    fig = figure(memory_vs_batch(small(), device_memory_bytes=memory))
    assert fig["layout"]["shapes"] == []
    assert fig["data"][-1]["y"] == [3.45]  # just above the highest peak
