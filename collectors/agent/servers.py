"""How each inference server's Prometheus metrics become InferenceSample fields.

Data, not code paths: one ServerMap per server. Each field lists the metric
names that carry it, newest name first where a server renamed a metric; the
first name the endpoint exposes is used. Counter names are given without the
`_total` suffix, which some exporters add and some do not. docs/agent-metrics.md
is the same table for people; a test keeps the two in step.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal


@dataclass(frozen=True)
class Counter:
    """A per-interval delta of a counter (summed over label sets, resets survived)."""

    names: tuple[str, ...]
    # Only series whose label is one of these values count, e.g. finished_reason.
    where: Mapping[str, frozenset[str]] = field(default_factory=dict)


@dataclass(frozen=True)
class Gauge:
    names: tuple[str, ...]
    aggregate: Literal["sum", "mean"] = "sum"


@dataclass(frozen=True)
class Histogram:
    """Per-bucket deltas of a histogram over the interval."""

    names: tuple[str, ...]


@dataclass(frozen=True)
class HistogramSum:
    """The delta of a histogram's _sum, for totals a server only keeps that way."""

    names: tuple[str, ...]
    where: Mapping[str, frozenset[str]] = field(default_factory=dict)
    # Seconds stay fractional; token counts are whole.
    seconds: bool = False


Source = Counter | Gauge | Histogram | HistogramSum


@dataclass(frozen=True)
class ServerMap:
    kind: str
    checked_against: str
    fields: Mapping[str, Source]
    # Fields this server cannot provide, with the reason, for the docs and --dry-run.
    missing: Mapping[str, str] = field(default_factory=dict)


_DONE = frozenset({"stop", "length"})

VLLM = ServerMap(
    kind="vllm",
    checked_against="vLLM 0.6 to 0.11 (V0 and V1 engines' metric names)",
    fields={
        "requests_ok": Counter(("vllm:request_success",), {"finished_reason": _DONE}),
        "requests_aborted": Counter(
            ("vllm:request_success",), {"finished_reason": frozenset({"abort"})}
        ),
        "requests_error": Counter(
            ("vllm:request_success",), {"finished_reason": frozenset({"error"})}
        ),
        "prompt_tokens": Counter(("vllm:prompt_tokens",)),
        "generation_tokens": Counter(("vllm:generation_tokens",)),
        "running": Gauge(("vllm:num_requests_running",)),
        "waiting": Gauge(("vllm:num_requests_waiting",)),
        "kv_cache_usage": Gauge(
            ("vllm:kv_cache_usage_perc", "vllm:gpu_cache_usage_perc"), aggregate="mean"
        ),
        "prefix_cache_hits": Counter(("vllm:prefix_cache_hits", "vllm:gpu_prefix_cache_hits")),
        "prefix_cache_queries": Counter(
            ("vllm:prefix_cache_queries", "vllm:gpu_prefix_cache_queries")
        ),
        "preemptions": Counter(("vllm:num_preemptions",)),
        "ttft_hist": Histogram(("vllm:time_to_first_token_seconds",)),
        "itl_hist": Histogram(
            ("vllm:inter_token_latency_seconds", "vllm:time_per_output_token_seconds")
        ),
        "e2e_hist": Histogram(("vllm:e2e_request_latency_seconds",)),
        "queue_hist": Histogram(("vllm:request_queue_time_seconds",)),
        # Request-seconds in each phase: the prefill vs decode cost split's input.
        "prefill_s": HistogramSum(("vllm:request_prefill_time_seconds",), seconds=True),
        "decode_s": HistogramSum(("vllm:request_decode_time_seconds",), seconds=True),
    },
)

TGI = ServerMap(
    kind="tgi",
    checked_against="text-generation-inference 2.x and 3.x",
    fields={
        "requests_ok": Counter(("tgi_request_success",)),
        "requests_error": Counter(("tgi_request_failure",)),
        "prompt_tokens": HistogramSum(("tgi_request_input_length",)),
        "generation_tokens": HistogramSum(("tgi_request_generated_tokens",)),
        "running": Gauge(("tgi_batch_current_size",)),
        "waiting": Gauge(("tgi_queue_size",)),
        "e2e_hist": Histogram(("tgi_request_duration",)),
        "queue_hist": Histogram(("tgi_request_queue_duration",)),
        # GPU time of the batches in each phase.
        "prefill_s": HistogramSum(
            ("tgi_batch_inference_duration", "tgi_batch_forward_duration"),
            {"method": frozenset({"prefill"})},
            seconds=True,
        ),
        "decode_s": HistogramSum(
            ("tgi_batch_inference_duration", "tgi_batch_forward_duration"),
            {"method": frozenset({"decode"})},
            seconds=True,
        ),
    },
    missing={
        "ttft_hist": "TGI has no time-to-first-token series",
        "itl_hist": "TGI's per-token latency includes prefill",
        "kv_cache_usage": "TGI does not export KV-cache use",
    },
)

SGLANG = ServerMap(
    kind="sglang",
    checked_against="SGLang 0.3 to 0.5 (--enable-metrics)",
    fields={
        "requests_ok": Counter(("sglang:num_requests",)),
        "prompt_tokens": Counter(("sglang:prompt_tokens",)),
        "generation_tokens": Counter(("sglang:generation_tokens",)),
        "running": Gauge(("sglang:num_running_reqs",)),
        "waiting": Gauge(("sglang:num_queue_reqs",)),
        "kv_cache_usage": Gauge(("sglang:token_usage",), aggregate="mean"),
        "ttft_hist": Histogram(("sglang:time_to_first_token_seconds",)),
        "itl_hist": Histogram(
            ("sglang:inter_token_latency_seconds", "sglang:time_per_output_token_seconds")
        ),
        "e2e_hist": Histogram(("sglang:e2e_request_latency_seconds",)),
        "queue_hist": Histogram(("sglang:queue_time_seconds",)),
    },
    missing={
        "requests_error": "SGLang counts requests without their outcome",
        "prefill_s": "SGLang does not time its phases; prefill vs decode cost uses the token model",
        "decode_s": "SGLang does not time its phases; prefill vs decode cost uses the token model",
    },
)

TRITON = ServerMap(
    kind="triton",
    checked_against="Triton Inference Server 2.40 to 2.60 (metrics port 8002)",
    fields={
        "requests_ok": Counter(("nv_inference_request_success",)),
        "requests_error": Counter(("nv_inference_request_failure",)),
        "waiting": Gauge(("nv_inference_pending_request_count",)),
    },
    missing={
        "ttft_hist": "Triton keeps latency as cumulative microsecond counters, not histograms",
        "e2e_hist": "Triton keeps latency as cumulative microsecond counters, not histograms",
        "prompt_tokens": "Triton does not count tokens",
        "generation_tokens": "Triton does not count tokens",
        "prefill_s": "Triton does not time prefill and decode apart",
        "decode_s": "Triton does not time prefill and decode apart",
    },
)

SERVERS: dict[str, ServerMap] = {s.kind: s for s in (VLLM, TGI, SGLANG, TRITON)}
