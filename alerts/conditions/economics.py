"""Goodput, capacity headroom and idle-held spend, as costs/economics and telemetry measure them.

- goodput: the share of a deployment's requests that met its SLO targets over the
  last GOODPUT_WINDOW_MINUTES of minute rollups, a window that slides every
  evaluation (whole hours would tell an hour or two late). Worked out by
  costs.economics.figures.hour_figures, the function behind the pages' goodput, on the
  window's rollups added together, so the two cannot disagree.
- headroom: the share of a deployment's capacity left at its current load (the
  last 60 minutes) or at its busiest 60 minutes of the last day, from the hourly capacity
  estimate; only a measured capacity (observed or extrapolated) is judged.
- idle_held: dollars a deployment was charged while it held its GPUs and served
  nothing, over the last IDLE_HELD_HOURS costed hours.
"""

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from alerts.choices import HeadroomCondition
from alerts.conditions.base import Breach, fmt
from alerts.constants import (
    GOODPUT_MIN_REQUESTS,
    GOODPUT_WINDOW_MINUTES,
    HEADROOM_MAX_AGE_SECONDS,
    IDLE_HELD_HOURS,
)
from alerts.models import Rule
from costs.economics.figures import SLO_METRICS, Figures, window_figures
from costs.economics.selectors import HeldDeployment, capacity_estimates, idle_held_deployments
from costs.selectors import newest_costed_hour
from inferscope.lib.timerange import hour_floor
from telemetry.models.capacity import CapacityBasis, CapacityEstimate

METRIC_NAMES = {"ttft": "TTFT", "itl": "inter-token latency", "e2e": "end-to-end latency"}
MEASURED = (CapacityBasis.OBSERVED, CapacityBasis.EXTRAPOLATED)


def _pct(value: float) -> str:
    return f"{value:g}%"


# Goodput -------------------------------------------------------------------------


def goodput_breaches(rule: Rule, now: datetime, reads: dict[Any, Any]) -> dict[str, Breach]:
    """Deployments whose goodput over the window is under `value` %."""
    target = float(rule.value or 0) / 100
    if "goodput" not in reads:
        reads["goodput"] = recent_goodput(now)
    out: dict[str, Breach] = {}
    for deployment_id, (figures, slo) in reads["goodput"].items():
        goodput = figures.goodput
        if goodput is None or figures.judged_requests < GOODPUT_MIN_REQUESTS:
            continue
        if goodput >= target:
            continue
        # Twice the misses the target allows is no longer a slow drift.
        critical = target < 1 and 1 - goodput >= 2 * (1 - target)
        out[f"deployment:{deployment_id}"] = Breach(
            goodput * 100,
            _goodput_summary(figures, float(rule.value or 0), slo),
            "critical" if critical else "warning",
        )
    return out


def recent_goodput(
    now: datetime, minutes: int = GOODPUT_WINDOW_MINUTES
) -> dict[int, tuple[Figures, dict[str, float]]]:
    """{deployment id: (its Figures over the last `minutes`, its SLO targets in ms)}."""
    start = now.replace(second=0, microsecond=0) - timedelta(minutes=minutes)
    return window_figures(start, now)


def _goodput_summary(figures: Figures, target_pct: float, slo: dict[str, float]) -> str:
    goodput = figures.goodput or 0.0
    text = (
        f"goodput {goodput:.1%} over the last {GOODPUT_WINDOW_MINUTES} minutes, below"
        f" {_pct(target_pct)}: {figures.good_requests:,.0f} of {figures.requests:,}"
        " requests met its SLO"
    )
    failed = 1 - figures.requests_ok / figures.requests if figures.requests else 0.0
    shares = {
        metric: share
        for metric, _, _ in SLO_METRICS
        if (share := figures.met_share(metric)) is not None
    }
    worst = min(shares, key=lambda m: shares[m]) if shares else None
    # Name what lost the most: failures, or the latency target met least often.
    if worst is None or failed >= 1 - shares[worst]:
        return text + f"; {failed:.0%} failed or were aborted: look at its errors first"
    what = "tokens" if worst == "itl" else "requests"
    target_ms = slo[f"slo_{worst}_ms"]
    return text + (
        f"; only {shares[worst]:.0%} of {what} met the {METRIC_NAMES[worst]} target of"
        f" {target_ms:,.0f} ms: add capacity or shed load"
    )


# Headroom ------------------------------------------------------------------------


def headroom_breaches(rule: Rule, now: datetime, reads: dict[Any, Any]) -> dict[str, Breach]:
    """Deployments with less than `value` % of their capacity left at the current (or
    peak) load; a capacity that is only a lower bound, or stale, is not judged."""
    floor = float(rule.value or 0) / 100
    peak = rule.condition == HeadroomCondition.PEAK
    if "capacity" not in reads:
        reads["capacity"] = capacity_estimates()
    fresh_after = now - timedelta(seconds=HEADROOM_MAX_AGE_SECONDS)
    out: dict[str, Breach] = {}
    estimate: CapacityEstimate
    for deployment_id, estimate in reads["capacity"].items():
        capacity = estimate.capacity_rps
        if estimate.basis not in MEASURED or not capacity or estimate.window_end < fresh_after:
            continue
        load = estimate.peak_rps if peak else estimate.current_rps
        headroom = 1 - load / capacity
        if headroom >= floor:
            continue
        out[f"deployment:{deployment_id}"] = Breach(
            headroom * 100,
            _headroom_summary(estimate, load, headroom, float(rule.value or 0), peak),
            "critical" if headroom < 0 and not peak else "warning",
        )
    return out


def _headroom_summary(
    estimate: CapacityEstimate, load: float, headroom: float, floor_pct: float, peak: bool
) -> str:
    capacity = estimate.capacity_rps or 0.0
    binds = METRIC_NAMES.get(estimate.binding_metric, estimate.binding_metric or "latency")
    how = "crossed in its traffic" if estimate.basis == CapacityBasis.OBSERVED else "extrapolated"
    when = "its busiest hour of the last day carried" if peak else "it carries"
    text = (
        f"{when} {fmt(load)} requests/s against the {fmt(capacity)} it serves within its SLO"
        f" ({binds} target, {how})"
    )
    needed = estimate.replicas_for(load) or 1
    if headroom < 0:
        more = needed - 1
        replicas = "replica" if more == 1 else "replicas"
        at = " at that peak" if peak else ""
        before = " before the next peak" if peak else ""
        return text + (
            f": {-headroom:.0%} past capacity{at}, it needs {needed} replicas like it"
            f" — add {more} {replicas}{before}"
        )
    return text + (
        f": {headroom:.0%} headroom, under {_pct(floor_pct)} — add a replica before the load"
        " grows past it"
    )


# Idle-held spend -----------------------------------------------------------------


def idle_held_breaches(rule: Rule, now: datetime, reads: dict[Any, Any]) -> dict[str, Breach]:
    """Deployments charged more than `value` $ for idle-held GPU time in the last day."""
    if "idle_held" not in reads:
        reads["idle_held"] = recent_idle_held(now)
    end, held = reads["idle_held"]
    limit = Decimal(str(rule.value or 0))
    return {
        f"deployment:{h.deployment.pk}": Breach(
            float(h.idle_held_usd),
            f"held its GPUs with nothing to serve for {fmt(h.idle_held_hours)} GPU-hours in the"
            f" {IDLE_HELD_HOURS} hours to {end:%H:%M} UTC, ${h.idle_held_usd:,.2f} of its"
            f" ${h.usd:,.2f}, above ${limit:,.2f} a day: stop it, or scale it to zero while"
            " it gets no traffic",
        )
        for h in held
        if h.idle_held_usd > limit
    }


def recent_idle_held(now: datetime) -> tuple[datetime | None, list[HeldDeployment]]:
    """(end, deployments) of the last IDLE_HELD_HOURS costed hours.

    The window ends after the newest costed hour rather than at the clock's hour,
    so the minute or two before the last hour is costed cannot clear the alert.
    """
    newest = newest_costed_hour(hour_floor(now))
    if newest is None:
        return None, []
    end = newest + timedelta(hours=1)
    start = end - timedelta(hours=IDLE_HELD_HOURS)
    return end, idle_held_deployments(start, end, limit=10**6)
