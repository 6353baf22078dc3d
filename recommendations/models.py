from django.db import models

from recommendations.choices import Confidence, RecommendationStatus
from recommendations.evidence_types import Evidence, evidence_of

__all__ = ["Recommendation"]


class Recommendation(models.Model):
    """One action a rule found worth taking, for one entity, kept across daily runs.

    `fingerprint` (rule + entity) makes the daily job an upsert: a rerun updates
    the figures and keeps what people decided (dismissed, snoozed, done).
    """

    rule = models.CharField(max_length=50)
    fingerprint = models.CharField(max_length=200, unique=True)
    title = models.CharField(max_length=300)
    action = models.TextField(help_text="one sentence a person can carry out")
    gpu = models.ForeignKey(
        "collectors.Gpu", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    deployment = models.ForeignKey(
        "collectors.Deployment",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    node = models.ForeignKey(
        "collectors.Node", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    monthly_saving_usd = models.DecimalField(max_digits=14, decimal_places=2)
    arithmetic = models.TextField(help_text="how the saving was computed, with its figures")
    confidence = models.CharField(max_length=10, choices=Confidence.choices)
    evidence = models.JSONField(default=dict, blank=True)
    status = models.CharField(
        max_length=12, choices=RecommendationStatus.choices, default=RecommendationStatus.OPEN
    )
    snoozed_until = models.DateTimeField(null=True, blank=True)
    first_seen_at = models.DateTimeField()
    last_seen_at = models.DateTimeField()
    closed_at = models.DateTimeField(null=True, blank=True)
    done_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-monthly_saving_usd", "id"]
        indexes = [models.Index(fields=["status", "monthly_saving_usd"], name="rec_status_saving")]

    def __str__(self) -> str:
        return self.title

    def evidence_record(self) -> Evidence | None:
        """The stored evidence, decoded; None (logged) for a row that cannot be read."""
        return evidence_of(self.evidence, f"evidence of recommendation {self.pk}")
