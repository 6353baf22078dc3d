"""Inference servers' /metrics text -> InferenceSample fields (no Django involved)."""

import logging
from datetime import timedelta
from pathlib import Path

import pytest

from collectors.agent.scrape import EndpointConverter, parse_snapshot
from collectors.schema import InferenceSampleIn
from tests.agent.scrape_support import FIXTURES, T0, T1, convert
from vocab.servers import SERVERS, SGLANG, TGI, TRITON, VLLM


def test_vllm_counters_become_deltas_summed_over_engines_across_a_restart():
    sample = convert(VLLM, "vllm_v1")
    assert sample["interval_s"] == 10.0
    # Engine 0 advanced; engine 1 restarted, so its counters start again from zero.
    assert sample["requests_ok"] == 12 + 4
    assert sample["requests_aborted"] == 1
    assert sample["requests_error"] == 0
    assert sample["prompt_tokens"] == 6000 + 2500
    assert sample["generation_tokens"] == 2500 + 1000
    assert (sample["prefix_cache_hits"], sample["prefix_cache_queries"]) == (2100, 6500)
    assert sample["preemptions"] == 1


def test_vllm_gauges_are_summed_or_averaged_over_engines():
    sample = convert(VLLM, "vllm_v1")
    assert sample["running"] == 14 and sample["waiting"] == 3
    assert sample["kv_cache_usage"] == pytest.approx(0.3)


def test_vllm_histograms_become_per_bucket_deltas():
    sample = convert(VLLM, "vllm_v1")
    ttft = sample["ttft_hist"]
    assert ttft["bounds"] == [0.1, 0.5, 1.0]
    assert ttft["counts"] == [5 + 2, 4 + 2, 3 + 0, 1 + 0]
    assert ttft["sum"] == pytest.approx(2.6 + 0.9)
    assert sample["e2e_hist"] == {"bounds": [1.0, 5.0], "counts": [1, 9, 3], "sum": 52.0}


def test_vllm_phase_times_are_the_deltas_of_their_histogram_sums():
    sample = convert(VLLM, "vllm_v1")
    assert sample["prefill_s"] == pytest.approx(42.75 - 40.5)
    assert sample["decode_s"] == pytest.approx(3196.5 - 3100.0)


def test_tgi_phase_times_are_its_batch_times_by_method():
    sample = convert(TGI, "tgi")
    assert sample["prefill_s"] == pytest.approx(31.25 - 30.0)
    assert sample["decode_s"] == pytest.approx(188.5 - 180.0)


def test_vllm_legacy_names_fill_the_same_fields():
    sample = convert(VLLM, "vllm_v0")
    assert sample["kv_cache_usage"] == pytest.approx(0.7)
    assert sample["prefix_cache_hits"] == 300
    assert sample["itl_hist"]["counts"] == [100, 150, 50]


def test_tgi_tokens_come_from_its_length_histograms():
    sample = convert(TGI, "tgi")
    assert (sample["requests_ok"], sample["requests_error"]) == (20, 1)
    assert (sample["prompt_tokens"], sample["generation_tokens"]) == (8400, 3100)
    assert (sample["running"], sample["waiting"]) == (5, 0)
    assert sample["e2e_hist"]["counts"] == [2, 14, 4]
    assert sample["queue_hist"]["sum"] == pytest.approx(0.4)


def test_tgi_ttft_is_derived_from_queue_time_plus_prefill_batch_time():
    sample = convert(TGI, "tgi")
    # 20 requests queued (18 under 10 ms, 2 under 100 ms); 20 prefill batches
    # (18 under 100 ms, 2 past it, 1.25 s in all): the sum of the two, spread
    # over the queue histogram's buckets.
    ttft = sample["ttft_hist"]
    assert ttft["bounds"] == [0.01, 0.1]
    assert ttft["counts"] == [2, 14, 4]
    assert sum(ttft["counts"]) == sample["queue_hist"]["counts"][0] + 2
    # The mean is exact: mean queue time + mean prefill time, per request.
    assert ttft["sum"] == pytest.approx(0.4 + 20 * 1.25 / 20)
    assert "derived" in TGI.derived["ttft_hist"]


def test_tgi_inter_token_latency_is_the_decode_step_not_the_mean_per_token():
    sample = convert(TGI, "tgi")
    # 400 decode steps, 8.5 s: each gave every request in its batch one token.
    assert sample["itl_hist"] == {"bounds": [0.1], "counts": [400, 0], "sum": 8.5}


@pytest.mark.parametrize("fixture", ["sglang", "sglang_oldlabels"])
def test_sglang_in_both_label_styles(fixture):
    sample = convert(SGLANG, fixture)
    assert (sample["requests_ok"], sample["prompt_tokens"], sample["generation_tokens"]) == (
        2,
        1000,
        400,
    )
    assert sample["kv_cache_usage"] == pytest.approx(0.25)
    assert sample["ttft_hist"]["counts"] == [1, 1, 0]


def test_triton_can_be_narrowed_to_one_model():
    everything = convert(TRITON, "triton")
    assert everything["requests_ok"] == 630
    llama = convert(TRITON, "triton", select={"model": "llama"})
    assert (llama["requests_ok"], llama["requests_error"], llama["waiting"]) == (30, 1, 1)


def test_a_missing_metric_is_reported_once(caplog):
    converter = EndpointConverter(VLLM, "http://test/vllm")
    text = (FIXTURES / "vllm_v0_t0.txt").read_text()
    with caplog.at_level(logging.WARNING):
        for second in range(3):
            converter.update(text, T0 + timedelta(seconds=second))
    ttft = [r for r in caplog.records if "time_to_first_token" in r.getMessage()]
    assert len(ttft) == 1
    assert "ttft_hist will be empty" in ttft[0].getMessage()


def test_unknown_metrics_are_ignored():
    text = "# TYPE python_gc_objects_collected counter\npython_gc_objects_collected_total 5\n"
    converter = EndpointConverter(VLLM, "x")
    converter.update(text, T0)
    assert converter.update(text, T1) == {"ts": T1, "interval_s": 10.0}


def test_untyped_counters_are_still_read():
    snap = parse_snapshot("tgi_request_success 7\n")
    assert snap.counters["tgi_request_success"] == {(): 7.0}


def test_every_server_map_names_real_fields():
    fields = set(InferenceSampleIn.__struct_fields__)
    for server in SERVERS.values():
        assert set(server.fields) <= fields, server.kind
        assert set(server.missing) <= fields, server.kind


def test_the_docs_list_every_mapped_metric():
    doc = (Path(__file__).resolve().parents[2] / "docs" / "agent-metrics.md").read_text()
    for server in SERVERS.values():
        assert f"### {server.kind}" in doc
        assert server.checked_against.split(" (")[0] in doc, server.kind
        for source in server.fields.values():
            for name in source.reads:
                assert f"`{name}`" in doc, name


@pytest.mark.slow
def test_the_agent_imports_no_django():
    import subprocess
    import sys

    code = (
        "import sys, collectors.agent.scrape, collectors.agent.nvml, vocab.servers,"
        " collectors.agent.simulated;"
        "sys.exit(any(m == 'django' or m.startswith('django.') for m in sys.modules))"
    )
    assert (
        subprocess.run([sys.executable, "-c", code], cwd=Path(__file__).parents[2]).returncode == 0
    )


def test_the_series_cache_reads_pages_as_the_parser_does():
    from collectors.agent.scrape import SeriesCache

    page = (FIXTURES / "vllm_v1_t0.txt").read_text() + (
        "# TYPE odd_total counter\n"
        'odd_total{path="/a b,c=d",q="x\\"y"} 3 1700000000000\n'
        "plain_gauge 7\n"
    )
    cache = SeriesCache()
    plain = parse_snapshot(page)
    assert parse_snapshot(page, cache=cache) == plain  # learns every series
    assert parse_snapshot(page, cache=cache) == plain  # reads them from the cache
    assert plain.counters["odd"] == {(("path", "/a b,c=d"), ("q", 'x"y')): 3.0}


def test_the_docs_list_every_exporter_metric_read():
    from collectors.agent.exporters import EXPORTERS
    from collectors.schema import GpuSampleIn

    doc = (Path(__file__).resolve().parents[2] / "docs" / "agent-metrics.md").read_text()
    for exporter in EXPORTERS.values():
        assert f"### {exporter.kind}" in doc
        assert exporter.checked_against.split(" (")[0] in doc, exporter.kind
        assert set(exporter.fields) | set(exporter.missing) <= set(GpuSampleIn.__struct_fields__)
        for spec in exporter.fields.values():
            for metric in spec.names:
                assert f"`{metric}`" in doc, metric


def _page(counter: float | None, buckets: dict[str, float] | None = None) -> str:
    lines = ["# TYPE vllm:prompt_tokens_total counter"]
    if counter is not None:
        lines.append(f'vllm:prompt_tokens_total{{engine="0"}} {counter}')
    lines.append("# TYPE vllm:e2e_request_latency_seconds histogram")
    for le, count in (buckets or {"1.0": 0, "+Inf": 0}).items():
        lines.append(f'vllm:e2e_request_latency_seconds_bucket{{engine="0",le="{le}"}} {count}')
    lines.append('vllm:e2e_request_latency_seconds_sum{engine="0"} 0')
    return "\n".join(lines) + "\n"


def test_a_series_missing_from_one_scrape_is_not_counted_again_from_zero():
    converter = EndpointConverter(VLLM, "x")
    converter.update(_page(1_000_000), T0)
    assert "prompt_tokens" not in converter.update(_page(None), T1)
    later = converter.update(_page(1_000_100), T1 + timedelta(seconds=10))
    assert later["prompt_tokens"] == 100


def test_values_that_are_not_numbers_are_skipped():
    converter = EndpointConverter(VLLM, "x")
    converter.update(_page(10), T0)
    converter.update(_page(float("nan")), T1)
    assert converter.update(_page(12), T1 + timedelta(seconds=10))["prompt_tokens"] == 2
    assert "prompt_tokens" not in converter.update(_page(float("inf")), T1 + timedelta(seconds=20))


def test_new_bucket_bounds_count_as_a_new_series():
    converter = EndpointConverter(VLLM, "x")
    converter.update(_page(0, {"1.0": 100, "+Inf": 140}), T0)
    sample = converter.update(_page(0, {"0.5": 5, "1.0": 8, "+Inf": 10}), T1)
    assert sum(sample["e2e_hist"]["counts"]) == 10


def test_a_gap_longer_than_a_day_starts_a_new_baseline():
    converter = EndpointConverter(VLLM, "x")
    converter.update(_page(10), T0)
    assert converter.update(_page(20), T0 + timedelta(days=2)) is None
    assert converter.update(_page(25), T0 + timedelta(days=2, seconds=10))["prompt_tokens"] == 5


def test_the_series_cache_follows_a_family_that_changes_type():
    from collectors.agent.scrape import SeriesCache

    cache = SeriesCache()
    gauge = "# TYPE thing gauge\nthing 3\n"
    counter = "# TYPE thing counter\nthing 4\n"
    assert parse_snapshot(gauge, cache=cache).gauges == {"thing": {(): 3.0}}
    assert parse_snapshot(counter, cache=cache).counters == {"thing": {(): 4.0}}


def test_an_implausible_counter_step_is_dropped_not_sent(caplog):
    # Two replicas behind one URL: a big counter read after a small one looks like
    # a reset, and its whole value would be refused by the server with the batch.
    converter = EndpointConverter(VLLM, "x")
    converter.update(_page(2**41 + 5), T0)
    converter.update(_page(10), T1)
    sample = converter.update(_page(2**41 + 7), T1 + timedelta(seconds=10))
    assert "prompt_tokens" not in sample
    assert "implausible" in caplog.text
