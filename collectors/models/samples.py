from django.db import models

from collectors.models.fleet import Agent, Deployment, Gpu

__all__ = ["GpuSample", "InferenceSample", "IngestBatch", "SampleSpan"]


class GpuSample(models.Model):
    """One row per GPU per sampling interval, as NVML reported it.

    Every measurement is nullable: a field the GPU does not support is NULL, never 0.
    energy_j and the ECC counts are the device's cumulative counters.
    """

    gpu = models.ForeignKey(Gpu, on_delete=models.CASCADE, related_name="samples", db_index=False)
    ts = models.DateTimeField()
    util_gpu = models.FloatField(null=True, help_text="percent, 0-100")
    util_mem = models.FloatField(null=True, help_text="percent of time memory was read/written")
    mem_used_bytes = models.PositiveBigIntegerField(null=True)
    mem_total_bytes = models.PositiveBigIntegerField(null=True)
    power_w = models.FloatField(null=True)
    power_limit_w = models.FloatField(null=True)
    energy_j = models.FloatField(null=True, help_text="cumulative since driver load")
    temp_c = models.FloatField(null=True)
    sm_clock_mhz = models.PositiveIntegerField(null=True)
    mem_clock_mhz = models.PositiveIntegerField(null=True)
    throttle_reasons = models.PositiveBigIntegerField(null=True, help_text="NVML bitmask")
    pcie_rx_bytes_s = models.FloatField(null=True)
    pcie_tx_bytes_s = models.FloatField(null=True)
    ecc_corrected = models.PositiveBigIntegerField(null=True)
    ecc_uncorrected = models.PositiveBigIntegerField(null=True)
    gr_engine_active = models.FloatField(null=True, help_text="fraction, 0-1 (DCGM)")
    tensor_active = models.FloatField(null=True, help_text="fraction, 0-1 (DCGM)")
    dram_active = models.FloatField(null=True, help_text="fraction, 0-1 (DCGM)")

    class Meta:
        # Pages and rollups read one GPU over a time range; the BRIN index on ts
        # (PostgreSQL only, in the migration) serves whole-fleet time windows.
        # One row per GPU and instant: a sample sent twice (a retry under a new
        # batch id, overlapping scrapes) is stored once, so rollups never double-count.
        constraints = [models.UniqueConstraint(fields=["gpu", "ts"], name="gpusample_gpu_ts")]
        verbose_name = "GPU sample"

    def __str__(self) -> str:
        return f"GPU {self.gpu_id} at {self.ts:%Y-%m-%d %H:%M:%S}"


class InferenceSample(models.Model):
    """One row per deployment per scrape interval.

    Counters are stored as deltas over the interval; gauges as the value at ts.
    Each *_hist is {"bounds": [upper bounds, s], "counts": [per-bucket deltas, the
    last one for +Inf], "sum": seconds}, so percentiles merge exactly across rows.
    """

    deployment = models.ForeignKey(
        Deployment, on_delete=models.CASCADE, related_name="samples", db_index=False
    )
    ts = models.DateTimeField()
    interval_s = models.FloatField()
    requests_ok = models.PositiveBigIntegerField(default=0)
    requests_error = models.PositiveBigIntegerField(default=0)
    requests_aborted = models.PositiveBigIntegerField(default=0)
    prompt_tokens = models.PositiveBigIntegerField(default=0)
    generation_tokens = models.PositiveBigIntegerField(default=0)
    running = models.FloatField(null=True)
    waiting = models.FloatField(null=True)
    kv_cache_usage = models.FloatField(null=True, help_text="fraction, 0-1")
    prefix_cache_hits = models.PositiveBigIntegerField(null=True)
    prefix_cache_queries = models.PositiveBigIntegerField(null=True)
    preemptions = models.PositiveBigIntegerField(null=True)
    # Seconds the server reports in each phase over the interval: vLLM's request
    # prefill/decode times (request-seconds), TGI's batch inference time by method.
    prefill_s = models.FloatField(null=True)
    decode_s = models.FloatField(null=True)
    batch_inferences = models.PositiveBigIntegerField(null=True)
    batch_executions = models.PositiveBigIntegerField(null=True)
    ttft_hist = models.JSONField(null=True)
    itl_hist = models.JSONField(null=True)
    e2e_hist = models.JSONField(null=True)
    queue_hist = models.JSONField(null=True)
    gpu_memory = models.JSONField(
        null=True, help_text="bytes this deployment's processes held on each GPU, by uuid"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["deployment", "ts"], name="infsample_deployment_ts")
        ]

    def __str__(self) -> str:
        return f"deployment {self.deployment_id} at {self.ts:%Y-%m-%d %H:%M:%S}"


class SampleSpan(models.Model):
    """The time range one stored batch covered, not yet rolled up.

    An outbox written in the batch's transaction: the rollup job re-rolls the
    buckets these spans touch and deletes them in its own transaction, so late
    samples are rolled up and a crashed job leaves them for the next run.
    """

    start = models.DateTimeField()
    end = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.start:%Y-%m-%d %H:%M:%S} to {self.end:%Y-%m-%d %H:%M:%S}"


class IngestBatch(models.Model):
    """One accepted ingest batch: the record that makes a retried batch a no-op."""

    agent = models.ForeignKey(Agent, on_delete=models.CASCADE, related_name="batches")
    batch_id = models.CharField(max_length=64)
    received_at = models.DateTimeField(auto_now_add=True, db_index=True)
    gpu_samples = models.PositiveIntegerField(default=0)
    inference_samples = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["agent", "batch_id"], name="ingestbatch_unique_id"),
        ]

    def __str__(self) -> str:
        return self.batch_id
