from django.db import models

from collectors.models import Deployment
from telemetry.knee_types import KneeDetail, knee_of


class CapacityBasis(models.TextChoices):
    OBSERVED = "observed", "observed: the SLO was crossed in the window"
    EXTRAPOLATED = "extrapolated", "extrapolated along a queueing curve"
    INSUFFICIENT = "insufficient", "not enough load: at least the busiest rate seen"
    UNATTAINABLE = "unattainable", "missed its SLO even at the lightest load seen"
    NO_TRAFFIC = "no_traffic", "no traffic in the window"


class CapacityEstimate(models.Model):
    """A deployment's knee as last estimated from its live traffic (telemetry/headroom.py).

    One row per deployment, rewritten by the hourly job: pages, alerts and
    recommendations read it instead of re-reading a day of minute rollups.
    """

    deployment = models.OneToOneField(
        Deployment, on_delete=models.CASCADE, related_name="capacity_estimate"
    )
    computed_at = models.DateTimeField()
    window_start = models.DateTimeField()
    window_end = models.DateTimeField()
    capacity_rps = models.FloatField(
        null=True, help_text="requests/s it carries within its SLO (a lower bound if insufficient)"
    )
    capacity_tokens_s = models.FloatField(null=True, help_text="the same, in tokens/s")
    basis = models.CharField(max_length=20, choices=CapacityBasis.choices)
    binding_metric = models.CharField(
        max_length=10, blank=True, help_text="ttft, itl or e2e: the target reached first"
    )
    current_rps = models.FloatField(default=0, help_text="the window's last hour")
    peak_rps = models.FloatField(default=0, help_text="the window's busiest hour")
    # Binned p95 latency against rate, per-metric crossings and fits: the knee chart.
    detail = models.JSONField(default=dict)

    class Meta:
        # Moved from the economics app (issue 24); the table kept its name.
        db_table = "economics_capacityestimate"
        ordering = ["deployment_id"]

    def __str__(self) -> str:
        return f"{self.deployment}: {self.capacity_rps} req/s ({self.basis})"

    def knee(self) -> KneeDetail | None:
        """The stored detail, decoded; None (logged) for a row that cannot be read."""
        return knee_of(self.detail, f"capacity detail of deployment {self.deployment_id}")

    @property
    def headroom(self) -> float | None:
        """Share of the capacity left at the current load; negative when past it."""
        if not self.capacity_rps or self.basis == CapacityBasis.NO_TRAFFIC:
            return None
        return 1 - self.current_rps / self.capacity_rps

    @property
    def is_lower_bound(self) -> bool:
        return self.basis == CapacityBasis.INSUFFICIENT

    def replicas_for(self, rps: float) -> int | None:
        if not self.capacity_rps or self.basis == CapacityBasis.NO_TRAFFIC:
            return None
        return _ceil(rps / self.capacity_rps)

    @property
    def replicas_needed(self) -> int | None:
        """Replicas like this one the current load needs."""
        return self.replicas_for(self.current_rps)

    @property
    def replicas_needed_peak(self) -> int | None:
        return self.replicas_for(self.peak_rps)


def _ceil(value: float) -> int:
    # 2.0000000001 replicas is 2: rates are sums of floats.
    whole = int(value)
    return whole if value - whole < 1e-9 else whole + 1
