from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator
from django.db import models
from django.db.models import Q

from alerts.choices import (
    BudgetCondition,
    Comparison,
    HeadroomCondition,
    HealthCondition,
    RuleKind,
)
from alerts.constants import DEFAULT_REPEAT_MINUTES, MAX_FOR_SECONDS, MAX_REPEAT_MINUTES
from anomaly.choices import Severity
from collectors.models import Deployment, Gpu, Node

__all__ = ["Rule", "Silence"]


def _labels_error(labels: object) -> str | None:
    if not isinstance(labels, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in labels.items()
    ):
        return 'Give labels as {"key": "value"} with text keys and values.'
    return None


class Rule(models.Model):
    """One condition checked every few seconds for every entity in its scope; each
    entity that breaks it for `for_seconds` gets one Alert until it clears.

    Which fields matter depends on the kind:
    threshold: metric, comparison, value; anomaly: min_severity and optionally
    metric (comma-separated anomaly metrics); budget: condition and value (a
    percentage of the budget); silence: value (minutes without data);
    gpu_health: condition and value (minutes, for throttling); goodput: value (the
    % of requests that must meet the SLO); headroom: condition (current or peak)
    and value (% of capacity that must be left; 0 = fire only past capacity);
    idle_held: value ($ a day).
    """

    name = models.CharField(max_length=200, unique=True)
    kind = models.CharField(max_length=20, choices=RuleKind.choices)
    enabled = models.BooleanField(default=True)
    metric = models.CharField(max_length=300, blank=True)
    comparison = models.CharField(max_length=2, choices=Comparison.choices, blank=True)
    value = models.FloatField(null=True, blank=True)
    condition = models.CharField(
        max_length=20,
        blank=True,
        choices=[*BudgetCondition.choices, *HealthCondition.choices, *HeadroomCondition.choices],
    )
    min_severity = models.CharField(max_length=10, choices=Severity.choices, blank=True)
    for_seconds = models.PositiveIntegerField(
        default=0,
        validators=[MaxValueValidator(MAX_FOR_SECONDS)],
        help_text="how long the condition must hold before the alert fires",
    )
    # Scope: at most one entity, and/or a label selector (all pairs must match).
    deployment = models.ForeignKey(Deployment, on_delete=models.CASCADE, null=True, blank=True)
    node = models.ForeignKey(Node, on_delete=models.CASCADE, null=True, blank=True)
    gpu = models.ForeignKey(Gpu, on_delete=models.CASCADE, null=True, blank=True)
    labels = models.JSONField(default=dict, blank=True)
    repeat_minutes = models.PositiveIntegerField(
        default=DEFAULT_REPEAT_MINUTES,
        validators=[MaxValueValidator(MAX_REPEAT_MINUTES)],
        help_text="remind while firing; 0 = never",
    )
    channels = models.ManyToManyField("alerts.Channel", related_name="rules", blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        from alerts.metrics import METRICS

        errors: dict[str, str] = {}
        if self.kind == RuleKind.THRESHOLD:
            if self.metric not in METRICS:
                errors["metric"] = f"Choose one of: {', '.join(sorted(METRICS))}."
            if not self.comparison:
                errors["comparison"] = "Choose a comparison."
            if self.value is None:
                errors["value"] = "Give the threshold."
        elif self.kind == RuleKind.ANOMALY:
            if not self.min_severity:
                errors["min_severity"] = "Choose the lowest severity that alerts."
        elif self.kind == RuleKind.BUDGET:
            if self.condition not in BudgetCondition.values:
                errors["condition"] = "Choose forecast or spent."
            if self.value is None or self.value <= 0:
                errors["value"] = "Give a percentage of the budget above 0 (100 = the budget)."
        elif self.kind == RuleKind.SILENCE:
            if self.value is None or self.value <= 0:
                errors["value"] = "Give the minutes without data, above 0."
        elif self.kind == RuleKind.GPU_HEALTH:
            if self.condition not in HealthCondition.values:
                errors["condition"] = "Choose throttling, ecc or gone."
            if self.condition == HealthCondition.THROTTLING and (
                self.value is None or self.value <= 0
            ):
                errors["value"] = "Give the minutes of throttling, above 0."
        elif self.kind == RuleKind.GOODPUT:
            if self.value is None or not 0 < self.value <= 100:
                errors["value"] = (
                    "Give the goodput target as a percentage above 0 and at most 100"
                    " (95 = fire when fewer than 95% of requests meet the SLO)."
                )
        elif self.kind == RuleKind.HEADROOM:
            if self.condition not in HeadroomCondition.values:
                errors["condition"] = "Choose current or peak."
            if self.value is None or not 0 <= self.value < 100:
                errors["value"] = (
                    "Give the headroom as a percentage from 0 up to, not including, 100"
                    " (10 = fire when less than 10% of the capacity is left; 0 = only"
                    " past capacity)."
                )
        elif self.kind == RuleKind.IDLE_HELD and (self.value is None or self.value <= 0):
            errors["value"] = "Give the idle-held dollars a day above which it fires, above 0."
        if sum(x is not None for x in (self.deployment_id, self.node_id, self.gpu_id)) > 1:
            errors["deployment"] = "Scope a rule to one deployment, node or GPU at most."
        if (message := _labels_error(self.labels)) is not None:
            errors["labels"] = message
        if errors:
            raise ValidationError(errors)


class Silence(models.Model):
    """A maintenance window: alerts it matches send nothing until `ends_at`.

    Empty rule, entity and labels match everything; each one set narrows it.
    """

    rule = models.ForeignKey(Rule, on_delete=models.CASCADE, null=True, blank=True)
    entity = models.CharField(
        max_length=100, blank=True, help_text="e.g. gpu:12, deployment:3, node:2"
    )
    labels = models.JSONField(default=dict, blank=True)
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    comment = models.CharField(max_length=500, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-ends_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(ends_at__gt=models.F("starts_at")), name="silence_ends_after_start"
            )
        ]

    def __str__(self) -> str:
        return f"silence until {self.ends_at:%Y-%m-%d %H:%M}"

    def clean(self) -> None:
        errors: dict[str, str] = {}
        if self.starts_at and self.ends_at and self.ends_at <= self.starts_at:
            errors["ends_at"] = "The end must come after the start."
        if (message := _labels_error(self.labels)) is not None:
            errors["labels"] = message
        if errors:
            raise ValidationError(errors)
