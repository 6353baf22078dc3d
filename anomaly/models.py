from collections.abc import Iterable

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q

from anomaly.choices import AnomalyKind, AnomalyStatus, Severity
from anomaly.constants import MAX_SENSITIVITY, MIN_SENSITIVITY
from collectors.models import Deployment, Gpu, Node

__all__ = ["Anomaly", "DetectorModel", "DetectorTuning", "ScoringWatermark", "SeriesHour"]

_AT_MOST_ONE_ENTITY = (
    Q(gpu__isnull=True, node__isnull=True, deployment__isnull=True)
    | Q(gpu__isnull=False, node__isnull=True, deployment__isnull=True)
    | Q(gpu__isnull=True, node__isnull=False, deployment__isnull=True)
    | Q(gpu__isnull=True, node__isnull=True, deployment__isnull=False)
)


class Anomaly(models.Model):
    """One stretch of time in which one metric of one entity was anomalous.

    Consecutive anomalous points of the same entity and metric extend the same
    row; the web only reads these rows, the scoring job writes them.
    """

    # Exactly one of gpu/node/deployment is set, or none for the whole fleet.
    gpu = models.ForeignKey(Gpu, on_delete=models.CASCADE, null=True, blank=True)
    node = models.ForeignKey(Node, on_delete=models.CASCADE, null=True, blank=True)
    deployment = models.ForeignKey(Deployment, on_delete=models.CASCADE, null=True, blank=True)
    metric = models.CharField(max_length=100, help_text="e.g. gpu.util, deployment.ttft_p95")
    detector = models.CharField(max_length=50)
    kind = models.CharField(max_length=20, choices=AnomalyKind.choices)
    start = models.DateTimeField()
    end = models.DateTimeField(help_text="the last anomalous point")
    score = models.FloatField(help_text="the highest score of its points")
    severity = models.CharField(max_length=10, choices=Severity.choices)
    observed = models.FloatField(null=True, help_text="the value at the highest score")
    expected_low = models.FloatField(null=True)
    expected_high = models.FloatField(null=True)
    explanation = models.CharField(max_length=500)
    status = models.CharField(
        max_length=20, choices=AnomalyStatus.choices, default=AnomalyStatus.OPEN
    )
    status_changed_at = models.DateTimeField(null=True, blank=True)
    status_changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-start"]
        indexes = [
            models.Index(fields=["metric", "end"], name="anomaly_metric_end"),
            models.Index(fields=["status", "-start"], name="anomaly_status_start"),
        ]
        constraints = [
            models.CheckConstraint(condition=_AT_MOST_ONE_ENTITY, name="anomaly_one_entity")
        ]
        verbose_name_plural = "anomalies"

    def __str__(self) -> str:
        return f"{self.get_kind_display()} in {self.metric} of {self.entity_label}"

    @property
    def entity_key(self) -> str:
        """The entity as the scoring job names it: gpu:<id>, deployment:<id>, node:<id>, fleet."""
        for kind in ("gpu", "deployment", "node"):
            pk = getattr(self, f"{kind}_id")
            if pk:
                return f"{kind}:{pk}"
        return "fleet"

    @staticmethod
    def entity_fields(entity: str) -> dict[str, int]:
        """The foreign key an entity key stands for, e.g. {"gpu_id": 12}; {} for the fleet."""
        kind, _, pk = entity.partition(":")
        return {f"{kind}_id": int(pk)} if pk else {}

    @property
    def entity_label(self) -> str:
        entity = self.gpu or self.deployment or self.node
        return str(entity) if entity else "the fleet"


class DetectorModel(models.Model):
    """One trained, versioned detector for one group (a GPU model, a deployment).

    The artefact is the estimator as joblib bytes; the newest version is used.
    """

    detector = models.CharField(max_length=50)
    group = models.CharField(max_length=300, help_text="e.g. gpu-model:H100 SXM, deployment:12")
    version = models.PositiveIntegerField()
    trained_at = models.DateTimeField(auto_now_add=True)
    window_start = models.DateTimeField()
    window_end = models.DateTimeField()
    samples = models.PositiveIntegerField()
    features = models.JSONField(default=list)
    artifact = models.BinaryField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["detector", "group", "version"], name="detectormodel_unique_version"
            )
        ]

    def __str__(self) -> str:
        return f"{self.detector} for {self.group} v{self.version}"


class DetectorTuning(models.Model):
    """The sensitivity of one metric of one entity, lowered by each false positive."""

    metric = models.CharField(max_length=100)
    entity = models.CharField(max_length=100, help_text="e.g. gpu:12, deployment:3, fleet")
    sensitivity = models.FloatField(
        default=1.0,
        validators=[MinValueValidator(MIN_SENSITIVITY), MaxValueValidator(MAX_SENSITIVITY)],
    )
    false_positives = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["metric", "entity"], name="detectortuning_unique")
        ]

    def __str__(self) -> str:
        return f"{self.metric} of {self.entity}: sensitivity {self.sensitivity:.2f}"

    @classmethod
    def sensitivities(cls, metrics: Iterable[str] | None = None) -> dict[tuple[str, str], float]:
        """(metric, entity) -> sensitivity, clamped: a bad value written past the
        admin's validators must not stop scoring."""
        rows = cls.objects.all() if metrics is None else cls.objects.filter(metric__in=metrics)
        return {
            (metric, entity): min(MAX_SENSITIVITY, max(MIN_SENSITIVITY, value))
            for metric, entity, value in rows.values_list("metric", "entity", "sensitivity")
        }


class ScoringWatermark(models.Model):
    """Up to when each series kind has been scored: a rerun scores nothing twice."""

    name = models.CharField(max_length=50, unique=True)
    scored_until = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.name} scored until {self.scored_until:%Y-%m-%d %H:%M}"


class SeriesHour(models.Model):
    """One hour of one per-minute series: what it read, and what the seasonal baseline expects.

    This is the seasonal detector's trained state. `anomaly.baselines` fills the
    observed fields once the hour is over and the expected fields a little ahead,
    so each scoring tick reads a few rows per series instead of weeks of minutes.
    """

    metric = models.CharField(max_length=100)
    entity = models.CharField(max_length=100)
    hour = models.DateTimeField()
    # Observed, once the hour is over (null: no data in it).
    median = models.FloatField(null=True)
    noise = models.FloatField(null=True, help_text="robust sigma of successive differences")
    residual = models.FloatField(null=True, help_text="median of value minus profile")
    # Expected, from earlier hours only (null: no profile yet).
    profile = models.FloatField(null=True)
    level = models.FloatField(null=True)
    usual_noise = models.FloatField(null=True)
    day_spread = models.FloatField(null=True)
    calibration = models.FloatField(null=True)
    source = models.PositiveSmallIntegerField(
        default=0, help_text="0 none, 1 any day, 2 same day type, 3 same hour of week"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["metric", "entity", "hour"], name="serieshour_unique")
        ]
        indexes = [models.Index(fields=["hour"], name="serieshour_hour")]

    def __str__(self) -> str:
        return f"{self.metric} of {self.entity} at {self.hour:%Y-%m-%d %H:00}"
