from django.conf import settings
from django.db import models

from inferscope.lib.stored import load
from profiling.choices import FINISHED, JobSource, JobStatus, PointStatus
from profiling.constants import DEFAULT_TIME_LIMIT_S
from profiling.records import Capability, DeviceRecord, ModelRecord, SpecSummary
from vocab.sweeps import setting_label

__all__ = ["ProfilingCapability", "ProfilingJob", "ProfilingResult"]


class ProfilingCapability(models.Model):
    """What one node's agent allows to be profiled there, as it last reported.

    The node's own configuration decides (the agent's `profiling_presets` and
    `profiling_model_paths`); the server only offers and queues what it allows.
    """

    node = models.OneToOneField(
        "collectors.Node", on_delete=models.CASCADE, related_name="profiling"
    )
    presets = models.JSONField(default=list)
    model_paths = models.JSONField(default=list)
    # [{"index": 0, "name": "NVIDIA H100 80GB HBM3", "memory_bytes": ...}]; empty: CPU only.
    devices = models.JSONField(default=list)
    torch_version = models.CharField(max_length=50, blank=True)
    max_time_limit_s = models.PositiveIntegerField(default=DEFAULT_TIME_LIMIT_S)
    memory_limit_bytes = models.PositiveBigIntegerField(
        null=True, blank=True, help_text="the node's cap on what one run may allocate"
    )
    reported_at = models.DateTimeField()

    class Meta:
        verbose_name_plural = "profiling capabilities"

    def __str__(self) -> str:
        return f"profiling on {self.node}"

    def allowed(self) -> Capability | None:
        """The three columns decoded; None (logged) when one cannot be read."""
        stored = {"presets": self.presets, "model_paths": self.model_paths, "devices": self.devices}
        return load(stored, Capability, f"profiling capability of node {self.node_id}")


class ProfilingJob(models.Model):
    """One sweep: queued for a node, run by its agent, or posted whole by the CLI."""

    name = models.CharField(max_length=200, blank=True)
    node = models.ForeignKey(
        "collectors.Node",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="profiling_jobs",
    )
    # The deployment whose model and settings the sweep stands for: recommendations
    # compare its served setting with the sweep's best.
    deployment = models.ForeignKey(
        "collectors.Deployment",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="profiling_jobs",
    )
    spec = models.JSONField(help_text="the validated sweep (vocab.sweeps.SweepSpec)")
    status = models.CharField(max_length=12, choices=JobStatus.choices, default=JobStatus.QUEUED)
    source = models.CharField(max_length=12, choices=JobSource.choices, default=JobSource.API)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True
    )
    agent = models.ForeignKey(
        "collectors.Agent", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    time_limit_s = models.PositiveIntegerField(default=DEFAULT_TIME_LIMIT_S)
    points_total = models.PositiveIntegerField(default=0)
    points_done = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    device = models.JSONField(default=dict, blank=True)
    model_info = models.JSONField(default=dict, blank=True)
    gpu_model = models.CharField(max_length=50, blank=True)
    # The price used for $ per 1M tokens, so a later price change is visible as such.
    usd_per_gpu_hour = models.DecimalField(max_digits=10, decimal_places=4, null=True, blank=True)
    price_description = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["node", "status"], name="profiling_job_queue")]

    def __str__(self) -> str:
        return self.name or f"profile #{self.pk}"

    def device_record(self) -> DeviceRecord | None:
        """The device as the runner reported it; None (logged) when unreadable."""
        return load(self.device, DeviceRecord, f"device of profiling job {self.pk}")

    def model_record(self) -> ModelRecord | None:
        return load(self.model_info, ModelRecord, f"model of profiling job {self.pk}")

    def spec_summary(self) -> SpecSummary | None:
        return load(self.spec, SpecSummary, f"spec of profiling job {self.pk}")

    @property
    def finished(self) -> bool:
        return self.status in FINISHED

    @property
    def progress_pct(self) -> float:
        return 100.0 * self.points_done / self.points_total if self.points_total else 0.0


class ProfilingResult(models.Model):
    """One point of a sweep: a setting and what it measured (medians of the repeats)."""

    job = models.ForeignKey(ProfilingJob, on_delete=models.CASCADE, related_name="results")
    index = models.PositiveIntegerField()
    batch_size = models.PositiveIntegerField()
    prompt_len = models.PositiveIntegerField()
    gen_len = models.PositiveIntegerField()
    dtype = models.CharField(max_length=8)
    quant = models.CharField(max_length=8)
    attention = models.CharField(max_length=12)
    compiled = models.BooleanField(default=False)
    status = models.CharField(max_length=12, choices=PointStatus.choices)
    error = models.CharField(max_length=500, blank=True)
    ttft_ms = models.FloatField(null=True, blank=True)
    ttft_ms_min = models.FloatField(null=True, blank=True)
    ttft_ms_max = models.FloatField(null=True, blank=True)
    itl_ms = models.FloatField(null=True, blank=True)
    itl_ms_min = models.FloatField(null=True, blank=True)
    itl_ms_max = models.FloatField(null=True, blank=True)
    request_ms = models.FloatField(null=True, blank=True)
    prefill_tokens_per_s = models.FloatField(null=True, blank=True)
    decode_tokens_per_s = models.FloatField(null=True, blank=True)
    tokens_per_s = models.FloatField(null=True, blank=True)
    peak_memory_bytes = models.PositiveBigIntegerField(null=True, blank=True)
    prefill_tflops = models.FloatField(null=True, blank=True)
    decode_tflops = models.FloatField(null=True, blank=True)
    mfu = models.FloatField(null=True, blank=True)
    decode_gb_per_s = models.FloatField(null=True, blank=True)
    mbu = models.FloatField(null=True, blank=True)
    avg_power_w = models.FloatField(null=True, blank=True)
    energy_j_per_token = models.FloatField(null=True, blank=True)
    gpu_util_pct = models.FloatField(null=True, blank=True)
    repeats = models.PositiveSmallIntegerField(default=0)
    usd_per_1m_tokens = models.FloatField(null=True, blank=True)
    usd_per_1m_output_tokens = models.FloatField(null=True, blank=True)

    class Meta:
        ordering = ["job", "index"]
        constraints = [
            models.UniqueConstraint(fields=["job", "index"], name="profiling_result_unique_index"),
        ]

    def __str__(self) -> str:
        return f"{self.job} #{self.index}"

    @property
    def label(self) -> str:
        return setting_label(self.dtype, self.quant, self.attention, self.compiled)
