"""What pages, the API, alerts and recommendations read: one set of functions, so
they cannot disagree. Periods are whole UTC hours, as cost attribution is."""

from collections.abc import Sequence
from datetime import datetime

from costs.economics.figures import Figures, economics_by_step, economics_totals, summed
from costs.economics.idle import HeldDeployment, IdleStep, idle_held_deployments, idle_series
from telemetry.models.capacity import CapacityEstimate

__all__ = [
    "Figures",
    "HeldDeployment",
    "IdleStep",
    "capacity_estimates",
    "deployment_economics",
    "deployment_economics_series",
    "fleet_economics",
    "idle_held_deployments",
    "idle_series",
]


def deployment_economics(
    start: datetime, end: datetime, deployment_ids: Sequence[int] | None = None
) -> dict[int, Figures]:
    """Each deployment's prefill/decode $, cache savings and goodput over the period."""
    return economics_totals(start, end, deployment_ids)


def deployment_economics_series(
    start: datetime, end: datetime, step: int, deployment_ids: Sequence[int] | None = None
) -> dict[int, dict[datetime, Figures]]:
    """The same per step (whole hours; a step shorter than an hour is an hour)."""
    return economics_by_step(start, end, max(step, 3600), deployment_ids)


def fleet_economics(
    start: datetime, end: datetime, deployment_ids: Sequence[int] | None = None
) -> Figures:
    """Every deployment's figures summed: the fleet's goodput, cache savings, split."""
    return summed(economics_totals(start, end, deployment_ids).values())


def capacity_estimates(deployment_ids: Sequence[int] | None = None) -> dict[int, CapacityEstimate]:
    """The hourly job's latest knee per deployment."""
    rows = CapacityEstimate.objects.select_related("deployment", "deployment__node")
    if deployment_ids is not None:
        rows = rows.filter(deployment_id__in=deployment_ids)
    return {row.deployment_id: row for row in rows}
