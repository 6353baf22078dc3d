"""Each server's dialect -> the same InferenceSample fields, from fixtures in the
servers' published formats (names, labels and types as they print them; values ours)."""

from datetime import timedelta

import pytest

from collectors.agent.scrape import EndpointConverter, parse_snapshot
from collectors.agent.sources import _model_name
from tests.agent.scrape_support import FIXTURES, T0, T1, convert
from vocab.servers import SGLANG, TRITON, TRTLLM, VLLM


def pages(server, *texts: str) -> list:
    converter = EndpointConverter(server, "http://test/inline")
    return [converter.update(text, T0 + timedelta(seconds=10 * i)) for i, text in enumerate(texts)]


def v0_page(rate: float, prompt: float) -> str:
    return (
        "# HELP vllm:gpu_prefix_cache_hit_rate GPU prefix cache block hit rate.\n"
        "# TYPE vllm:gpu_prefix_cache_hit_rate gauge\n"
        f'vllm:gpu_prefix_cache_hit_rate{{model_name="m"}} {rate}\n'
        "# TYPE vllm:prompt_tokens_total counter\n"
        f'vllm:prompt_tokens_total{{model_name="m"}} {prompt}\n'
    )


def test_vllm_v0_prefix_hit_rate_gauge_becomes_hits_and_queries():
    # Lifetime: 50% of 10,000 prompt tokens, then 55% of 12,000: 1,600 of the
    # interval's 2,000 prompt tokens were hits.
    _, sample = pages(VLLM, v0_page(0.5, 10000), v0_page(0.55, 12000))
    assert sample["prefix_cache_queries"] == 2000
    assert sample["prefix_cache_hits"] == 1600
    assert "derived" in VLLM.derived["prefix_cache_hits"]


def test_vllm_v0_hit_rate_survives_a_restart_and_an_off_cache():
    # A restart: the counter starts again; hits are the new lifetime's.
    _, after_restart = pages(VLLM, v0_page(0.5, 10000), v0_page(0.25, 800))
    assert (after_restart["prefix_cache_hits"], after_restart["prefix_cache_queries"]) == (200, 800)
    # -1 while prefix caching is off: no cache, so no hits and no queries (not a
    # cache that missed every time, which would read as "on, 0% hits").
    _, off = pages(VLLM, v0_page(-1, 10000), v0_page(-1, 11000))
    assert "prefix_cache_hits" not in off and "prefix_cache_queries" not in off
    # Turned on between two scrapes: the hits since are the lifetime rate's.
    _, on = pages(VLLM, v0_page(-1, 10000), v0_page(0.5, 12000))
    assert (on["prefix_cache_hits"], on["prefix_cache_queries"]) == (2000, 2000)


def test_vllm_v1_counters_win_over_the_v0_gauge():
    sample = convert(VLLM, "vllm_v1")
    assert (sample["prefix_cache_hits"], sample["prefix_cache_queries"]) == (2100, 6500)


def test_triton_latency_counters_become_interval_means():
    llama = convert(TRITON, "triton", select={"model": "llama"})
    # 30 requests took 14.4 s in all (cumulative µs): a mean of 480 ms, no buckets.
    assert llama["e2e_hist"] == {"bounds": [], "counts": [30], "sum": pytest.approx(14.4)}
    assert llama["queue_hist"] == {"bounds": [], "counts": [30], "sum": pytest.approx(1.2)}


def test_triton_first_response_histogram_is_read_in_seconds():
    llama = convert(TRITON, "triton", select={"model": "llama"})
    assert llama["ttft_hist"]["bounds"] == [0.1, 0.5, 2.0, 5.0]
    assert llama["ttft_hist"]["counts"] == [18, 10, 2, 0, 0]
    assert llama["ttft_hist"]["sum"] == pytest.approx(5.88)


def test_triton_batch_efficiency_from_inferences_and_executions():
    embedder = convert(TRITON, "triton", select={"model": "embedder"})
    # 600 requests in 80 executions: a mean batch of 7.5.
    assert (embedder["batch_inferences"], embedder["batch_executions"]) == (600, 80)
    llama = convert(TRITON, "triton", select={"model": "llama"})
    assert llama["batch_inferences"] == llama["batch_executions"] == 30


def test_sglang_newest_labels_and_cached_tokens():
    sample = convert(SGLANG, "sglang_new")
    assert sample["requests_ok"] == 2263 - 2210
    assert sample["prompt_tokens"] == 4314735 - 4199936
    assert sample["prefix_cache_hits"] == 1026531 - 997410
    assert sample["prefix_cache_queries"] == sample["prompt_tokens"]
    assert (sample["running"], sample["waiting"]) == (63, 7)
    assert sample["kv_cache_usage"] == pytest.approx(0.7194)


def test_sglang_without_cached_tokens_has_no_prefix_figures():
    sample = convert(SGLANG, "sglang")
    assert "prefix_cache_hits" not in sample and "prefix_cache_queries" not in sample


def sglang_ranks(running: dict[tuple[str, str], float]) -> str:
    lines = ["# TYPE sglang:num_running_reqs gauge"]
    for (dp, tp), value in running.items():
        lines.append(
            f'sglang:num_running_reqs{{engine_type="unified",model_name="m",dp_rank="{dp}",'
            f'moe_ep_rank="0",pp_rank="0",tp_rank="{tp}"}} {value}'
        )
    return "\n".join(lines) + "\n"


def test_sglang_ranks_repeating_one_engine_count_once_and_dp_groups_add_up():
    # --enable-metrics-for-all-schedulers: TP ranks 0-3 of each DP group report the
    # group's figure; the two DP groups serve different requests.
    text = sglang_ranks({("0", str(tp)): 10 for tp in range(4)} | {("1", "4"): 6, ("1", "5"): 6})
    _, sample = pages(SGLANG, text, text)
    assert sample["running"] == 16


def test_trtllm_serve_finished_reasons_tokens_and_cache():
    sample = convert(TRTLLM, "trtllm")
    assert sample["requests_ok"] == (185 - 173) + (1324 - 1279)
    assert sample["requests_aborted"] == 29 - 28  # cancelled
    assert sample["requests_error"] == 0
    assert sample["prompt_tokens"] == 1979851 - 1908489
    assert sample["prefix_cache_hits"] == 315520 - 304512
    assert sample["prefix_cache_queries"] == sample["prompt_tokens"]
    assert (sample["running"], sample["waiting"]) == (58, 6)
    assert sample["kv_cache_usage"] == pytest.approx(0.7831853616284106)
    for hist in ("ttft_hist", "itl_hist", "e2e_hist", "queue_hist"):
        assert sum(sample[hist]["counts"]) == 1538 - 1480, hist


def test_trtllm_undefined_model_label_is_no_model_name():
    assert _model_name((FIXTURES / "trtllm_t1.txt").read_text()) == ""
    assert _model_name('x{model_name="undefined"} 1\ny{model_name="llama-70b"} 1\n') == "llama-70b"


def test_every_server_counts_a_restart_as_a_reset_not_a_negative_step():
    for server, name in ((TRTLLM, "trtllm"), (SGLANG, "sglang_new"), (TRITON, "triton")):
        converter = EndpointConverter(server, "http://test/reset")
        converter.update((FIXTURES / f"{name}_t1.txt").read_text(), T0)
        # The server restarted between scrapes: its counters are back at the t0 page's.
        after = converter.update((FIXTURES / f"{name}_t0.txt").read_text(), T1)
        # Counted from zero: the step is the whole of the new counters, as a first
        # scrape after start-up against an empty baseline would give.
        fresh = EndpointConverter(server, "http://test/fresh")
        fresh._previous = (parse_snapshot(""), T0)
        expected = fresh.update((FIXTURES / f"{name}_t0.txt").read_text(), T1)
        assert after["requests_ok"] == expected["requests_ok"] > 0, name
        for hist in ("ttft_hist", "e2e_hist"):
            assert after.get(hist) == expected.get(hist), (name, hist)


def test_what_a_server_cannot_give_or_derives_is_logged_once(caplog):
    import logging

    from vocab.servers import TGI

    converter = EndpointConverter(TGI, "http://tgi:8080/metrics")
    with caplog.at_level(logging.INFO):
        for name in ("tgi_t0", "tgi_t1", "tgi_t1"):
            converter.update((FIXTURES / f"{name}.txt").read_text(), T0)
    messages = [r.getMessage() for r in caplog.records]
    no_kv = "http://tgi:8080/metrics (tgi): no kv_cache_usage: TGI does not export KV-cache use"
    assert messages.count(no_kv) == 1
    derived = [m for m in messages if "ttft_hist is derived" in m]
    assert len(derived) == 1 and "queue time" in derived[0]


def test_sglang_queue_time_of_repeating_ranks_counts_once():
    def page(count: int) -> str:
        lines = ["# TYPE sglang:queue_time_seconds histogram"]
        for tp in range(2):
            labels = f'model_name="m",engine_type="unified",pp_rank="0",tp_rank="{tp}"'
            lines += [
                f'sglang:queue_time_seconds_bucket{{{labels},le="0.1"}} {count}',
                f'sglang:queue_time_seconds_bucket{{{labels},le="+Inf"}} {count}',
                f"sglang:queue_time_seconds_sum{{{labels}}} {count * 0.05}",
                f"sglang:queue_time_seconds_count{{{labels}}} {count}",
            ]
        return "\n".join(lines) + "\n"

    _, sample = pages(SGLANG, page(100), page(130))
    assert sample["queue_hist"]["counts"] == [30, 0]  # not 60: two ranks, one engine


def test_a_missing_part_of_a_derived_field_is_reported(caplog):
    import logging

    from vocab.servers import TGI

    # Queue times but no prefill batch times: TTFT cannot be derived, and the log says why.
    text = (FIXTURES / "tgi_t0.txt").read_text()
    text = "\n".join(line for line in text.splitlines() if "batch_inference" not in line)
    with caplog.at_level(logging.WARNING):
        EndpointConverter(TGI, "http://tgi/metrics").update(text + "\n", T0)
    assert (
        "http://tgi/metrics (tgi): exposes none of tgi_batch_inference_duration,"
        " tgi_batch_forward_duration; ttft_hist will be empty"
    ) in caplog.messages


def test_a_fraction_gauge_out_of_range_never_refuses_the_batch(caplog):
    def page(usage: float) -> str:
        return f"# TYPE trtllm_kv_cache_utilization gauge\ntrtllm_kv_cache_utilization {usage}\n"

    _, hair = pages(TRTLLM, page(0.5), page(1.0000001))
    assert hair["kv_cache_usage"] == 1.0
    _, percent = pages(TRTLLM, page(50), page(78.5))
    assert "kv_cache_usage" not in percent
    assert any("out of range" in m for m in caplog.messages)


def test_a_triton_source_adding_up_several_models_is_warned_once(caplog):
    import logging

    with caplog.at_level(logging.WARNING):
        for _ in range(2):
            convert(TRITON, "triton")
        convert(TRITON, "triton", select={"model": "llama"})
    warned = [m for m in caplog.messages if "serves 2 models (embedder, llama)" in m]
    assert len(warned) == 2  # once per source that adds them up, none for the narrowed one
    assert "#model=NAME" in warned[0]
