"""What people tell us about a deployment that no metric shows: how it is served now,
its latency targets, and what kind of work it does."""

from django.core.validators import MinValueValidator
from django.db import models

from collectors.models.fleet import Deployment

__all__ = ["DEFAULT_SLO", "DeploymentSettings", "settings_for"]

# p95 targets used until someone sets their own: MLPerf Inference's server scenario
# for chat-sized LLMs allows a 2 s time to first token and a 100-200 ms time per
# output token; 30 s end to end covers a long answer at that pace.
DEFAULT_SLO = {"slo_ttft_ms": 2000.0, "slo_itl_ms": 100.0, "slo_e2e_ms": 30000.0}


class Precision(models.TextChoices):
    # The profiling runner's names, so a profiled setting and the served one compare.
    UNKNOWN = "", "Unknown"
    FP32 = "fp32", "fp32"
    FP16 = "fp16", "fp16"
    BF16 = "bf16", "bf16"


class Quantization(models.TextChoices):
    UNKNOWN = "", "Unknown"
    NONE = "none", "None"
    INT8 = "int8", "int8 (weight-only)"


class DeploymentSettings(models.Model):
    """One per deployment, created on first edit; settings_for() gives the defaults."""

    deployment = models.OneToOneField(Deployment, on_delete=models.CASCADE, related_name="settings")
    dtype = models.CharField(
        max_length=8, choices=Precision.choices, blank=True, help_text="precision served now"
    )
    quant = models.CharField(
        max_length=8, choices=Quantization.choices, blank=True, help_text="quantization served now"
    )
    attention = models.CharField(
        max_length=12,
        blank=True,
        help_text="attention kernel served now, as the profiling runner names them",
    )
    compiled = models.BooleanField(null=True, blank=True, help_text="torch.compile on now")
    max_batch = models.PositiveIntegerField(
        null=True,
        blank=True,
        validators=[MinValueValidator(1)],
        help_text="the server's batch limit (vLLM max_num_seqs, TGI max_batch_size)",
    )
    prefix_caching = models.BooleanField(
        null=True, blank=True, help_text="prefix caching enabled on the server"
    )
    shared_prefix_tokens = models.PositiveIntegerField(
        null=True, blank=True, help_text="tokens most prompts share (a system prompt, say)"
    )
    interruptible = models.BooleanField(
        default=False, help_text="batch work that can be stopped and resumed (spot capacity)"
    )
    slo_ttft_ms = models.FloatField(
        default=DEFAULT_SLO["slo_ttft_ms"],
        validators=[MinValueValidator(1.0)],
        help_text="p95 time to first token target, ms",
    )
    slo_itl_ms = models.FloatField(
        default=DEFAULT_SLO["slo_itl_ms"],
        validators=[MinValueValidator(0.1)],
        help_text="p95 inter-token latency target, ms",
    )
    slo_e2e_ms = models.FloatField(
        default=DEFAULT_SLO["slo_e2e_ms"],
        validators=[MinValueValidator(1.0)],
        help_text="p95 end-to-end request latency target, ms",
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "deployment settings"

    def __str__(self) -> str:
        return f"settings of {self.deployment}"


def settings_for(deployment: Deployment) -> DeploymentSettings:
    """The stored settings, or unsaved defaults: every reader gets an object."""
    try:
        return deployment.settings
    except DeploymentSettings.DoesNotExist:
        return DeploymentSettings(deployment=deployment)
