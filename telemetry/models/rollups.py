from django.db import models

from collectors.models import Deployment, Gpu
from telemetry.choices import Resolution

__all__ = ["GpuRollup", "InferenceRollup"]


class GpuRollup(models.Model):
    """One GPU over one bucket (1 minute, 1 hour or 1 day) of its samples.

    Averages are kept as sum and count so buckets merge exactly into longer
    ones. present_s is the time the GPU was seen (gaps over 5 minutes excluded);
    energy_j comes from the energy counter, or power x time where it has none.
    """

    gpu = models.ForeignKey(Gpu, on_delete=models.CASCADE, related_name="rollups", db_index=False)
    resolution = models.PositiveIntegerField(choices=Resolution.choices)
    bucket = models.DateTimeField(help_text="start of the bucket, UTC")
    samples = models.PositiveIntegerField()
    present_s = models.FloatField()
    util_sum = models.FloatField(default=0)
    util_n = models.PositiveIntegerField(default=0)
    util_max = models.FloatField(null=True)
    power_sum = models.FloatField(default=0)
    power_n = models.PositiveIntegerField(default=0)
    power_max = models.FloatField(null=True)
    energy_j = models.FloatField(default=0)
    mem_used_max = models.PositiveBigIntegerField(null=True)
    mem_total = models.PositiveBigIntegerField(null=True)
    throttled_s = models.FloatField(default=0)
    temp_sum = models.FloatField(default=0)
    temp_n = models.PositiveIntegerField(default=0)
    temp_max = models.FloatField(null=True)
    # For the GPU page's memory and clock charts; averages kept as sum and count.
    # Defaults in the database too: rows written by raw SQL before these existed still load.
    mem_used_sum = models.FloatField(default=0, db_default=0)
    mem_used_n = models.PositiveIntegerField(default=0, db_default=0)
    sm_clock_sum = models.FloatField(default=0, db_default=0)
    sm_clock_n = models.PositiveIntegerField(default=0, db_default=0)
    # dcgm-exporter's profiling fractions (0-1), where the GPU's source has them.
    gr_engine_sum = models.FloatField(default=0, db_default=0)
    gr_engine_n = models.PositiveIntegerField(default=0, db_default=0)
    tensor_sum = models.FloatField(default=0, db_default=0)
    tensor_n = models.PositiveIntegerField(default=0, db_default=0)
    dram_sum = models.FloatField(default=0, db_default=0)
    dram_n = models.PositiveIntegerField(default=0, db_default=0)

    class Meta:
        # Moved from the costs app (issue 24); the table kept its name, so no data moved.
        db_table = "costs_gpurollup"
        constraints = [
            models.UniqueConstraint(
                fields=["gpu", "resolution", "bucket"], name="gpurollup_unique_bucket"
            )
        ]
        indexes = [models.Index(fields=["resolution", "bucket"], name="gpurollup_res_bucket")]

    def __str__(self) -> str:
        return f"GPU {self.gpu_id} {self.resolution}s at {self.bucket:%Y-%m-%d %H:%M}"

    @property
    def util_avg(self) -> float | None:
        return self.util_sum / self.util_n if self.util_n else None

    @property
    def power_avg(self) -> float | None:
        return self.power_sum / self.power_n if self.power_n else None

    @property
    def temp_avg(self) -> float | None:
        return self.temp_sum / self.temp_n if self.temp_n else None

    @property
    def mem_used_avg(self) -> float | None:
        return self.mem_used_sum / self.mem_used_n if self.mem_used_n else None

    @property
    def sm_clock_avg(self) -> float | None:
        return self.sm_clock_sum / self.sm_clock_n if self.sm_clock_n else None


class InferenceRollup(models.Model):
    """One deployment over one bucket of its inference samples.

    Counters are summed; histograms are merged bucket by bucket; gpu_memory is
    {uuid: [bytes summed over samples, samples]} so its average merges exactly.
    """

    deployment = models.ForeignKey(
        Deployment, on_delete=models.CASCADE, related_name="rollups", db_index=False
    )
    resolution = models.PositiveIntegerField(choices=Resolution.choices)
    bucket = models.DateTimeField(help_text="start of the bucket, UTC")
    samples = models.PositiveIntegerField()
    present_s = models.FloatField(help_text="sum of the samples' intervals")
    requests_ok = models.PositiveBigIntegerField(default=0)
    requests_error = models.PositiveBigIntegerField(default=0)
    requests_aborted = models.PositiveBigIntegerField(default=0)
    prompt_tokens = models.PositiveBigIntegerField(default=0)
    generation_tokens = models.PositiveBigIntegerField(default=0)
    running_max = models.FloatField(null=True)
    waiting_max = models.FloatField(null=True)
    kv_cache_sum = models.FloatField(default=0)
    kv_cache_n = models.PositiveIntegerField(default=0)
    prefix_cache_hits = models.PositiveBigIntegerField(default=0)
    prefix_cache_queries = models.PositiveBigIntegerField(default=0)
    preemptions = models.PositiveBigIntegerField(default=0)
    # Seconds in which the server had requests running or finished some: the
    # rest of present_s it held its GPUs idle (the idle-held part of its cost).
    active_s = models.FloatField(default=0, db_default=0)
    prefill_s = models.FloatField(default=0, db_default=0)
    decode_s = models.FloatField(default=0, db_default=0)
    batch_inferences = models.PositiveBigIntegerField(default=0, db_default=0)
    batch_executions = models.PositiveBigIntegerField(default=0, db_default=0)
    ttft_hist = models.JSONField(null=True)
    itl_hist = models.JSONField(null=True)
    e2e_hist = models.JSONField(null=True)
    queue_hist = models.JSONField(null=True)
    gpu_memory = models.JSONField(null=True)

    class Meta:
        db_table = "costs_inferencerollup"
        constraints = [
            models.UniqueConstraint(
                fields=["deployment", "resolution", "bucket"], name="infrollup_unique_bucket"
            )
        ]
        indexes = [models.Index(fields=["resolution", "bucket"], name="infrollup_res_bucket")]

    def __str__(self) -> str:
        return f"deployment {self.deployment_id} {self.resolution}s at {self.bucket:%Y-%m-%d %H:%M}"

    @property
    def requests(self) -> int:
        return self.requests_ok + self.requests_error + self.requests_aborted

    @property
    def kv_cache_avg(self) -> float | None:
        return self.kv_cache_sum / self.kv_cache_n if self.kv_cache_n else None
