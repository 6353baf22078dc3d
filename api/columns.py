"""The columns of the REST export, in order: output name -> ORM path.

A page's serializer takes its fields from the same dict (api/serializers.py), so a
page and a CSV row read the same fields by construction.
"""

from telemetry.columns import GPU_ROLLUP_FIELDS, INFERENCE_ROLLUP_FIELDS

GPU_SAMPLE_COLUMNS: dict[str, str] = {
    "id": "id",
    "gpu": "gpu_id",
    "gpu_uuid": "gpu__uuid",
    "ts": "ts",
    **{
        name: name
        for name in (
            "util_gpu",
            "util_mem",
            "mem_used_bytes",
            "mem_total_bytes",
            "power_w",
            "power_limit_w",
            "energy_j",
            "temp_c",
            "sm_clock_mhz",
            "mem_clock_mhz",
            "throttle_reasons",
            "pcie_rx_bytes_s",
            "pcie_tx_bytes_s",
            "ecc_corrected",
            "ecc_uncorrected",
        )
    },
}

INFERENCE_SAMPLE_COLUMNS: dict[str, str] = {
    "id": "id",
    "deployment": "deployment_id",
    "deployment_name": "deployment__name",
    "ts": "ts",
    **{
        name: name
        for name in (
            "interval_s",
            "requests_ok",
            "requests_error",
            "requests_aborted",
            "prompt_tokens",
            "generation_tokens",
            "running",
            "waiting",
            "kv_cache_usage",
            "prefix_cache_hits",
            "prefix_cache_queries",
            "preemptions",
            "prefill_s",
            "decode_s",
            "batch_inferences",
            "batch_executions",
            "ttft_hist",
            "itl_hist",
            "e2e_hist",
            "queue_hist",
            "gpu_memory",
        )
    },
}

# Annotated as avg_*: the models' *_avg properties take those names on an instance.
_AVERAGES = {
    f"{name}_avg": f"avg_{name}"
    for name in ("util", "power", "temp", "mem_used", "sm_clock", "kv_cache")
}

GPU_ROLLUP_COLUMNS: dict[str, str] = {
    "id": "id",
    "gpu": "gpu_id",
    "gpu_uuid": "gpu__uuid",
    "resolution_s": "resolution",
    "bucket": "bucket",
    # The stored fields (telemetry.columns; buckets merge exactly only through the sums
    # and counts), and the averages a person reads.
    **{name: name for name in GPU_ROLLUP_FIELDS},
    **{
        name: _AVERAGES[name]
        for name in ("util_avg", "power_avg", "mem_used_avg", "temp_avg", "sm_clock_avg")
    },
}

INFERENCE_ROLLUP_COLUMNS: dict[str, str] = {
    "id": "id",
    "deployment": "deployment_id",
    "deployment_name": "deployment__name",
    "resolution_s": "resolution",
    "bucket": "bucket",
    # The stored fields, with the KV cache's average beside its sum and count.
    **{
        name: _AVERAGES.get(name, name)
        for field in INFERENCE_ROLLUP_FIELDS
        for name in (("kv_cache_avg", field) if field == "kv_cache_sum" else (field,))
    },
}
