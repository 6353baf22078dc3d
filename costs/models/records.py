from decimal import Decimal

from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q

from collectors.models import Deployment, Gpu

__all__ = ["Budget", "CostRecord", "HostedAlternative", "HourlySpend"]


class CostRecord(models.Model):
    """Dollars of one GPU-hour that went to one deployment, or to idle (no deployment).

    For every (hour, GPU) the deployments' rows plus the idle row add up to the
    GPU's price for the time it was present, to the micro-dollar.
    """

    hour = models.DateTimeField()
    gpu = models.ForeignKey(Gpu, on_delete=models.CASCADE, related_name="cost_records")
    deployment = models.ForeignKey(
        Deployment, on_delete=models.CASCADE, null=True, related_name="cost_records"
    )
    usd = models.DecimalField(max_digits=16, decimal_places=6)
    gpu_hours = models.FloatField()
    energy_wh = models.FloatField(default=0)
    # Of usd and gpu_hours, the part of the hour in which the deployment held its
    # share with no request running or finishing (the rest is active).
    idle_held_usd = models.DecimalField(max_digits=16, decimal_places=6, default=0)
    idle_held_hours = models.FloatField(default=0)
    rate_usd_per_hour = models.DecimalField(max_digits=12, decimal_places=6)
    # False: no price applied (a model missing from the price book), so the $ is 0.
    priced = models.BooleanField(default=True)
    pricing = models.CharField(max_length=200, help_text="which price applied, for audits")

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["hour", "gpu", "deployment"],
                condition=Q(deployment__isnull=False),
                name="costrecord_unique_share",
            ),
            models.UniqueConstraint(
                fields=["hour", "gpu"],
                condition=Q(deployment__isnull=True),
                name="costrecord_unique_idle",
            ),
            models.CheckConstraint(condition=Q(usd__gte=0), name="costrecord_usd_non_negative"),
            models.CheckConstraint(
                condition=Q(idle_held_usd__gte=0, idle_held_usd__lte=models.F("usd")),
                name="costrecord_idle_held_within_usd",
            ),
        ]
        indexes = [models.Index(fields=["hour"], name="costrecord_hour")]

    def __str__(self) -> str:
        who = f"deployment {self.deployment_id}" if self.deployment_id else "idle"
        return f"{self.hour:%Y-%m-%d %H:00} GPU {self.gpu_id} {who}: ${self.usd}"


class Budget(models.Model):
    """A monthly spending limit for one deployment or for every deployment with a label."""

    name = models.CharField(max_length=200, unique=True)
    deployment = models.ForeignKey(
        Deployment, on_delete=models.CASCADE, null=True, blank=True, related_name="budgets"
    )
    label_key = models.CharField(max_length=200, blank=True)
    label_value = models.CharField(max_length=500, blank=True)
    monthly_usd = models.DecimalField(
        max_digits=14, decimal_places=2, validators=[MinValueValidator(Decimal("0.01"))]
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def scope(self) -> str:
        if self.deployment_id:
            return f"deployment {self.deployment}"
        return f"label {self.label_key}={self.label_value}"

    def clean(self) -> None:
        has_label = bool(self.label_key or self.label_value)
        if self.deployment_id and has_label:
            raise ValidationError({"label_key": "Give a deployment or a label, not both."})
        if not self.deployment_id and not (self.label_key and self.label_value):
            raise ValidationError({"deployment": "Give a deployment, or a label key and value."})


class HostedAlternative(models.Model):
    """A hosted API that could serve one deployment's traffic, for the break-even figure."""

    deployment = models.OneToOneField(
        Deployment, on_delete=models.CASCADE, related_name="hosted_alternative"
    )
    name = models.CharField(max_length=200, help_text="e.g. 'gpt-4o-mini via OpenAI'")
    usd_per_1m_input = models.DecimalField(
        max_digits=10, decimal_places=4, validators=[MinValueValidator(Decimal(0))]
    )
    usd_per_1m_output = models.DecimalField(
        max_digits=10, decimal_places=4, validators=[MinValueValidator(Decimal(0))]
    )

    def __str__(self) -> str:
        return f"{self.name} for {self.deployment}"


class HourlySpend(models.Model):
    """One hour's spend of one deployment, or of idle (no deployment), over all its GPUs.

    The sums of that hour's CostRecords, written with them: pages that chart spend
    over weeks read ~one row per deployment an hour instead of one per GPU and
    deployment. A label filter's idle cost needs the GPU, so it reads CostRecords.
    """

    hour = models.DateTimeField()
    deployment = models.ForeignKey(
        Deployment, on_delete=models.CASCADE, null=True, related_name="+"
    )
    usd = models.DecimalField(max_digits=16, decimal_places=6)
    # Of usd and gpu_hours, what the deployment held while it served nothing
    # (see CostRecord.idle_held_usd).
    idle_held_usd = models.DecimalField(max_digits=16, decimal_places=6)
    gpu_hours = models.FloatField()
    idle_held_gpu_hours = models.FloatField(default=0, db_default=0)
    energy_wh = models.FloatField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["hour", "deployment"],
                condition=Q(deployment__isnull=False),
                name="hourlyspend_unique_share",
            ),
            models.UniqueConstraint(
                fields=["hour"],
                condition=Q(deployment__isnull=True),
                name="hourlyspend_unique_idle",
            ),
        ]
        indexes = [models.Index(fields=["hour"], name="hourlyspend_hour")]

    def __str__(self) -> str:
        who = f"deployment {self.deployment_id}" if self.deployment_id else "idle"
        return f"{self.hour:%Y-%m-%d %H:00} {who}: ${self.usd}"
