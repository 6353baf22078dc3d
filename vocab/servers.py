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
    # Read only while the endpoint exposes one of these: a counter that stands in
    # for another field's denominator (prompt tokens as prefix-cache queries).
    requires: tuple[str, ...] = ()

    @property
    def reads(self) -> tuple[str, ...]:
        return self.names + self.requires


@dataclass(frozen=True)
class Gauge:
    names: tuple[str, ...]
    aggregate: Literal["sum", "mean"] = "sum"
    # Labels that tell apart ranks repeating one engine's figure: counted once.
    repeated: frozenset[str] = frozenset()

    @property
    def reads(self) -> tuple[str, ...]:
        return self.names


@dataclass(frozen=True)
class Histogram:
    """Per-bucket deltas of a histogram over the interval."""

    names: tuple[str, ...]
    where: Mapping[str, frozenset[str]] = field(default_factory=dict)
    # To seconds, for histograms kept in other units (Triton's milliseconds).
    scale: float = 1.0
    # As for Gauge: ranks repeating one engine's observations are read once.
    repeated: frozenset[str] = frozenset()

    @property
    def reads(self) -> tuple[str, ...]:
        return self.names


@dataclass(frozen=True)
class HistogramSum:
    """The delta of a histogram's _sum, for totals a server only keeps that way."""

    names: tuple[str, ...]
    where: Mapping[str, frozenset[str]] = field(default_factory=dict)
    # Seconds stay fractional; token counts are whole.
    seconds: bool = False

    @property
    def reads(self) -> tuple[str, ...]:
        return self.names


@dataclass(frozen=True)
class CumulativeTime:
    """A latency kept as a cumulative time counter beside a count of what it timed
    (Triton's microsecond counters): the interval's mean, stored as a histogram with
    no finite bucket, i.e. a count and a sum, from which no percentile is guessed."""

    names: tuple[str, ...]
    count: tuple[str, ...]
    scale: float  # to seconds

    @property
    def reads(self) -> tuple[str, ...]:
        return self.names + self.count


@dataclass(frozen=True)
class SumOfHistograms:
    """The distribution of a + b for a server that times two consecutive stages but
    not their total (TGI: queue time + prefill batch time = time to first token).
    Each interval's two histograms are convolved as independent distributions."""

    first: Histogram
    second: Histogram

    @property
    def names(self) -> tuple[str, ...]:
        return self.first.names

    @property
    def reads(self) -> tuple[str, ...]:
        return self.first.names + self.second.names


@dataclass(frozen=True)
class LifetimeRate:
    """A lifetime hit-rate gauge times a lifetime counter (vLLM V0's prefix-cache hit
    rate times prompt tokens): the interval's hits are the change of their product,
    its queries the counter's delta."""

    names: tuple[str, ...]  # the rate gauge
    total: tuple[str, ...]  # the counter it is a rate of
    part: Literal["hits", "queries"]

    @property
    def reads(self) -> tuple[str, ...]:
        return self.names + self.total


@dataclass(frozen=True)
class FirstOf:
    """The first of several sources that gives a value, for a field a server kept in
    different shapes across versions (a counter that replaced a gauge)."""

    options: tuple["Simple", ...]

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(n for option in self.options for n in option.names)

    @property
    def reads(self) -> tuple[str, ...]:
        return tuple(n for option in self.options for n in option.reads)


Simple = Counter | Gauge | Histogram | HistogramSum | CumulativeTime | LifetimeRate
Source = Simple | SumOfHistograms | FirstOf


@dataclass(frozen=True)
class ServerMap:
    kind: str
    checked_against: str
    fields: Mapping[str, Source]
    # Fields this server cannot provide, with the reason, for the docs and --dry-run.
    missing: Mapping[str, str] = field(default_factory=dict)
    # Fields computed from other series rather than read, with how: shown beside them.
    derived: Mapping[str, str] = field(default_factory=dict)
    # A label that tells apart things that are better deployments of their own
    # (Triton's models): a source without a selector on it is warned, once.
    one_per: str = ""


def counter_names(server: ServerMap) -> set[str]:
    """The metrics a server map reads as counters (PromQL results carry no TYPE)."""

    def walk(source: Source) -> tuple[str, ...]:
        if isinstance(source, FirstOf):
            return tuple(n for option in source.options for n in walk(option))
        if isinstance(source, Counter):
            return source.names
        if isinstance(source, CumulativeTime):
            return source.names + source.count
        if isinstance(source, LifetimeRate):
            return source.total
        return ()

    return {n for source in server.fields.values() for n in walk(source)}


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
        # V1 counts hits and queries; V0 kept a lifetime hit-rate gauge instead.
        "prefix_cache_hits": FirstOf(
            (
                Counter(("vllm:prefix_cache_hits", "vllm:gpu_prefix_cache_hits")),
                LifetimeRate(("vllm:gpu_prefix_cache_hit_rate",), ("vllm:prompt_tokens",), "hits"),
            )
        ),
        "prefix_cache_queries": FirstOf(
            (
                Counter(("vllm:prefix_cache_queries", "vllm:gpu_prefix_cache_queries")),
                LifetimeRate(
                    ("vllm:gpu_prefix_cache_hit_rate",), ("vllm:prompt_tokens",), "queries"
                ),
            )
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
    derived={
        "prefix_cache_hits": "derived on vLLM V0, which has only a lifetime hit-rate gauge:"
        " the change of hit rate × prompt tokens (vllm:gpu_prefix_cache_hit_rate ×"
        " vllm:prompt_tokens)",
        "prefix_cache_queries": "derived on vLLM V0: the interval's prompt tokens",
    },
)

_TGI_BATCH = ("tgi_batch_inference_duration", "tgi_batch_forward_duration")
_TGI_PREFILL = Histogram(_TGI_BATCH, {"method": frozenset({"prefill"})})

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
        "ttft_hist": SumOfHistograms(Histogram(("tgi_request_queue_duration",)), _TGI_PREFILL),
        # One decode step gives every request in the batch its next token, so a
        # step's time is the gap between tokens; tgi_request_mean_time_per_token_duration
        # is not used, as it spreads the prefill over the tokens.
        "itl_hist": Histogram(_TGI_BATCH, {"method": frozenset({"decode"})}),
        "e2e_hist": Histogram(("tgi_request_duration",)),
        "queue_hist": Histogram(("tgi_request_queue_duration",)),
        # GPU time of the batches in each phase.
        "prefill_s": HistogramSum(_TGI_BATCH, {"method": frozenset({"prefill"})}, seconds=True),
        "decode_s": HistogramSum(_TGI_BATCH, {"method": frozenset({"decode"})}, seconds=True),
    },
    missing={
        "kv_cache_usage": "TGI does not export KV-cache use",
        "prefix_cache_hits": "TGI does not count prefix-cache hits",
    },
    derived={
        "ttft_hist": "derived: TGI has no time-to-first-token series; its queue time plus"
        " the time of a prefill batch",
        "itl_hist": "derived: the time of one decode step (TGI's per-token latency"
        " includes the prefill); a prefill run between steps also holds tokens up, and"
        " is not in it",
    },
)

# Scheduler ranks of one engine: with --enable-metrics-for-all-schedulers each
# reports the same figures, so they are counted once.
_SGLANG_RANKS = frozenset({"tp_rank", "pp_rank", "moe_ep_rank"})

SGLANG = ServerMap(
    kind="sglang",
    checked_against="SGLang 0.3 to 0.5 (--enable-metrics; label `name`, then `model_name`,"
    " then `model_name` with `engine_type` and scheduler ranks)",
    fields={
        "requests_ok": Counter(("sglang:num_requests",)),
        "prompt_tokens": Counter(("sglang:prompt_tokens",)),
        "generation_tokens": Counter(("sglang:generation_tokens",)),
        "running": Gauge(("sglang:num_running_reqs",), repeated=_SGLANG_RANKS),
        "waiting": Gauge(("sglang:num_queue_reqs",), repeated=_SGLANG_RANKS),
        "kv_cache_usage": Gauge(("sglang:token_usage",), aggregate="mean"),
        # Prompt tokens served from the radix cache, of all prompt tokens.
        "prefix_cache_hits": Counter(("sglang:cached_tokens",)),
        "prefix_cache_queries": Counter(
            ("sglang:prompt_tokens",), requires=("sglang:cached_tokens",)
        ),
        "ttft_hist": Histogram(("sglang:time_to_first_token_seconds",)),
        "itl_hist": Histogram(
            ("sglang:inter_token_latency_seconds", "sglang:time_per_output_token_seconds")
        ),
        "e2e_hist": Histogram(("sglang:e2e_request_latency_seconds",)),
        "queue_hist": Histogram(("sglang:queue_time_seconds",), repeated=_SGLANG_RANKS),
    },
    missing={
        "requests_error": "SGLang counts requests without their outcome",
        "prefill_s": "SGLang does not time its phases; prefill vs decode cost uses the token model",
        "decode_s": "SGLang does not time its phases; prefill vs decode cost uses the token model",
    },
)

TRTLLM = ServerMap(
    kind="trtllm",
    checked_against="TensorRT-LLM 1.1 and 1.2 (trtllm-serve, /prometheus/metrics)",
    fields={
        "requests_ok": Counter(("trtllm_request_success",), {"finished_reason": _DONE}),
        "requests_aborted": Counter(
            ("trtllm_request_success",), {"finished_reason": frozenset({"cancelled"})}
        ),
        "requests_error": Counter(
            ("trtllm_request_success",), {"finished_reason": frozenset({"timeout"})}
        ),
        "prompt_tokens": Counter(("trtllm_prompt_tokens",)),
        "generation_tokens": Counter(("trtllm_generation_tokens",)),
        "running": Gauge(("trtllm_num_requests_running",)),
        "waiting": Gauge(("trtllm_num_requests_waiting",)),
        "kv_cache_usage": Gauge(("trtllm_kv_cache_utilization",), aggregate="mean"),
        "prefix_cache_hits": Counter(("trtllm_prompt_cached_tokens",)),
        "prefix_cache_queries": Counter(
            ("trtllm_prompt_tokens",), requires=("trtllm_prompt_cached_tokens",)
        ),
        "ttft_hist": Histogram(("trtllm_time_to_first_token_seconds",)),
        "itl_hist": Histogram(("trtllm_time_per_output_token_seconds",)),
        "e2e_hist": Histogram(("trtllm_e2e_request_latency_seconds",)),
        "queue_hist": Histogram(("trtllm_request_queue_time_seconds",)),
    },
    missing={
        "preemptions": "trtllm-serve does not count preemptions",
        "prefill_s": "trtllm-serve does not time prefill and decode apart",
        "decode_s": "trtllm-serve does not time prefill and decode apart",
    },
    derived={
        "itl_hist": "each request's mean time per output token (one observation per"
        " request, not per token)",
    },
)

_TRITON_OK = ("nv_inference_request_success",)

TRITON = ServerMap(
    kind="triton",
    checked_against="Triton Inference Server 2.40 to 2.60 (metrics port 8002)",
    fields={
        "requests_ok": Counter(_TRITON_OK),
        "requests_error": Counter(("nv_inference_request_failure",)),
        "waiting": Gauge(("nv_inference_pending_request_count",)),
        # Decoupled (streaming) models with histogram_latencies=true only; it times
        # the first response, which for an LLM backend is the first token's chunk.
        "ttft_hist": Histogram(("nv_inference_first_response_histogram_ms",), scale=1e-3),
        "e2e_hist": CumulativeTime(("nv_inference_request_duration_us",), _TRITON_OK, 1e-6),
        "queue_hist": CumulativeTime(("nv_inference_queue_duration_us",), _TRITON_OK, 1e-6),
        # A batch of n requests is n inferences and one execution.
        "batch_inferences": Counter(("nv_inference_count",)),
        "batch_executions": Counter(("nv_inference_exec_count",)),
    },
    missing={
        "prompt_tokens": "Triton does not count tokens",
        "generation_tokens": "Triton does not count tokens",
        "itl_hist": "Triton does not time tokens",
        "prefill_s": "Triton does not time prefill and decode apart",
        "decode_s": "Triton does not time prefill and decode apart",
    },
    derived={
        "e2e_hist": "the interval's mean only: Triton keeps request time as a cumulative"
        " microsecond counter, so there are no percentiles",
        "queue_hist": "the interval's mean only, from the cumulative queue-time counter",
        "ttft_hist": "the time to the first response of a decoupled model",
    },
    one_per="model",
)

SERVERS: dict[str, ServerMap] = {s.kind: s for s in (VLLM, TGI, SGLANG, TRITON, TRTLLM)}
