from django.db import models
from django.db.models import Q

from alerts.choices import AlertState, EventKind
from alerts.models.rules import Rule

__all__ = ["Alert", "AlertEvent"]


class Alert(models.Model):
    """One rule breaking for one entity, from its first breach until it clears.

    While it is pending or firing it is the only open alert of its rule and entity
    (a partial unique constraint), so two evaluations at once cannot open two.
    """

    rule = models.ForeignKey(Rule, on_delete=models.CASCADE, related_name="alerts")
    entity = models.CharField(max_length=100, help_text="gpu:12, deployment:3, node:2, fleet, …")
    entity_label = models.CharField(max_length=300)
    link = models.CharField(
        max_length=500, blank=True, help_text="the entity's page, site-relative"
    )
    state = models.CharField(max_length=10, choices=AlertState.choices)
    value = models.FloatField(null=True)
    summary = models.CharField(max_length=500)
    severity = models.CharField(max_length=10, default="warning")
    labels = models.JSONField(default=dict, blank=True)
    started_at = models.DateTimeField(help_text="first evaluation that found the breach")
    fired_at = models.DateTimeField(null=True, blank=True)
    last_notified_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-started_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["rule", "entity"],
                condition=Q(state__in=[AlertState.PENDING, AlertState.FIRING]),
                name="alert_one_open_per_rule_entity",
            )
        ]
        indexes = [models.Index(fields=["state", "-started_at"], name="alert_state")]

    def __str__(self) -> str:
        return f"{self.rule}: {self.entity_label} ({self.state})"


class AlertEvent(models.Model):
    """Something to tell people (fired, still firing, resolved): an outbox row written
    with the state change, claimed once by the delivery task."""

    alert = models.ForeignKey(Alert, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=10, choices=EventKind.choices)
    summary = models.CharField(max_length=500)
    value = models.FloatField(null=True)
    created_at = models.DateTimeField(auto_now_add=True)
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["processed_at", "created_at"], name="alertevent_outbox")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.alert}"
