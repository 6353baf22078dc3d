"""The stored columns of the rollups, in one place: the rollup jobs write them, the API
exports them and the readers select them, so a new field is added here once."""

GPU_ROLLUP_FIELDS = (
    "samples",
    "present_s",
    "util_sum",
    "util_n",
    "util_max",
    "power_sum",
    "power_n",
    "power_max",
    "energy_j",
    "mem_used_max",
    "mem_total",
    "throttled_s",
    "temp_sum",
    "temp_n",
    "temp_max",
    "mem_used_sum",
    "mem_used_n",
    "sm_clock_sum",
    "sm_clock_n",
    "gr_engine_sum",
    "gr_engine_n",
    "tensor_sum",
    "tensor_n",
    "dram_sum",
    "dram_n",
)

# Summed when buckets merge.
INFERENCE_SUMS = (
    "samples",
    "present_s",
    "requests_ok",
    "requests_error",
    "requests_aborted",
    "prompt_tokens",
    "generation_tokens",
    "kv_cache_sum",
    "kv_cache_n",
    "prefix_cache_hits",
    "prefix_cache_queries",
    "preemptions",
    "active_s",
    "prefill_s",
    "decode_s",
    "batch_inferences",
    "batch_executions",
)
INFERENCE_MAXES = ("running_max", "waiting_max")
# Latency histograms (telemetry.histograms decodes them).
INFERENCE_HISTOGRAMS = ("ttft_hist", "itl_hist", "e2e_hist", "queue_hist")
INFERENCE_JSON = (*INFERENCE_HISTOGRAMS, "gpu_memory")
INFERENCE_ROLLUP_FIELDS = (*INFERENCE_SUMS, *INFERENCE_MAXES, *INFERENCE_JSON)
