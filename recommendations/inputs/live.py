"""A replica's capacity as its own traffic measured it: the hourly capacity estimate
of the economics app (telemetry/headroom.py), read where a rule has no sweep or peer.

Only measured estimates count: `observed` (the SLO was crossed in the window) or
`extrapolated` (along a queueing curve, within twice the busiest rate seen). An
`insufficient` one is only a lower bound (the load never came near the targets),
so it would undersize a replica; `no_traffic` says nothing.
"""

from collections.abc import Iterable
from datetime import timedelta
from typing import Any

from collectors.models import Deployment
from costs.economics.selectors import capacity_estimates
from recommendations.context import Context
from telemetry.models.capacity import CapacityBasis, CapacityEstimate

MEASURED = (CapacityBasis.OBSERVED, CapacityBasis.EXTRAPOLATED)
# An estimate whose window ended this long before the rule's window did describes
# a replica that may since have changed (a new version, new flags): not read.
MAX_AGE = timedelta(days=1)
METRIC_NAMES = {"ttft": "TTFT", "itl": "ITL", "e2e": "end-to-end latency"}


def live_estimates(ctx: Context, deployments: Iterable[Deployment]) -> list[CapacityEstimate]:
    """The deployments' measured, recent estimates, smallest capacity first: replicas
    of one service are sized by the weakest one measured."""
    rows = capacity_estimates([d.pk for d in deployments]).values()
    usable = [
        e
        for e in rows
        if e.basis in MEASURED and e.capacity_rps and e.window_end >= ctx.end - MAX_AGE
    ]
    return sorted(usable, key=lambda e: (e.capacity_rps or 0.0, e.deployment_id))


def live_words(estimate: CapacityEstimate) -> str:
    """'TTFT target, crossed in its traffic': what binds and how it was found."""
    binds = METRIC_NAMES.get(estimate.binding_metric, estimate.binding_metric or "latency")
    how = (
        "crossed in its traffic"
        if estimate.basis == CapacityBasis.OBSERVED
        else "extrapolated along a queueing curve"
    )
    return f"{binds} target, {how}"


def live_evidence(estimate: CapacityEstimate) -> dict[str, Any]:
    return {
        "deployment_id": estimate.deployment_id,
        "capacity_rps": round(estimate.capacity_rps or 0.0, 4),
        "capacity_tokens_s": (
            None if estimate.capacity_tokens_s is None else round(estimate.capacity_tokens_s, 3)
        ),
        "basis": estimate.basis,
        "binding_metric": estimate.binding_metric,
        "window_start": estimate.window_start.isoformat(),
        "window_end": estimate.window_end.isoformat(),
    }
