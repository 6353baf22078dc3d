"""Rule 2: a service whose busiest hours fit on fewer replicas than it runs: run fewer,
or on a cheaper GPU model where peers show one carries it (cheaper_gpu), whichever
saves more.

A service is the deployments of one name and model across nodes, its replicas. What
one replica can carry comes from the service's own profiling sweep, else from other
services serving the same model on the same GPU model, else from the replicas' live
capacity estimates (capacity.py); daily_troughs reads the same.
"""

from datetime import datetime
from decimal import Decimal
from typing import Any

from recommendations.choices import Confidence
from recommendations.rules import register
from recommendations.rules.base import Context, Finding, Rule
from recommendations.rules.capacity import Capacity, capacity, peer_hours
from recommendations.rules.cheaper_gpu import cheaper_finding, cheaper_gpu, on_demand_book
from recommendations.rules.data import cents, deployment_costs, monthly, monthly_arithmetic
from recommendations.rules.replicas import (
    HEADROOM,
    Service,
    demand_chart,
    load_services,
    p95,
    plural,
    rate,
    replicas_needed,
)


@register
class UnderusedDeployments(Rule):
    """Config: `headroom` (0.3): spare capacity kept above the p95 hour;
    `min_hours` (24): fewer hours of traffic than this say nothing.

    Two options, one finding per service, the larger saving: fewer replicas, or the
    same service on a cheaper GPU model that peers showed can carry it (cheaper_gpu)."""

    name = "underused_deployments"
    headroom = HEADROOM
    min_hours = 24

    def evaluate(self, ctx: Context) -> list[Finding]:
        services = load_services(ctx)
        book = on_demand_book(ctx) if services else {}
        findings = []
        for service in services:
            count = len(service.replicas)
            hourly = service.hourly()
            if not count or len(hourly) < self.min_hours:
                continue
            ids = [d.pk for d in service.replicas]
            window_usd = sum(deployment_costs(ctx, ids).values(), Decimal(0))
            if window_usd <= 0:
                continue  # unpriced: nothing to save that we can state
            demand = p95(list(hourly.values()))
            peers = peer_hours(service, services)
            fewer: tuple[Capacity, int, Decimal] | None = None
            cap = capacity(ctx, service, services, peers) if count >= 2 else None
            if cap is not None:
                needed = replicas_needed(demand, cap.per_replica, self.headroom)
                if needed < count:
                    saved = monthly(window_usd * (count - needed) / count, ctx)
                    fewer = (cap, needed, saved)
            cheaper = cheaper_gpu(ctx, service, peers, book, demand, self.headroom, window_usd)
            if cheaper is not None and cheaper.saving > (fewer[2] if fewer else 0):
                other = {"needed": fewer[1], "monthly_saving_usd": str(fewer[2])} if fewer else None
                findings.append(cheaper_finding(ctx, service, hourly, demand, cheaper, other))
            elif fewer is not None:
                other = cheaper.summary() if cheaper else None
                findings.append(
                    self._finding(ctx, service, hourly, demand, *fewer[:2], window_usd, other)
                )
        return findings

    def _finding(
        self,
        ctx: Context,
        service: Service,
        hourly: dict[datetime, float],
        demand: float,
        cap: Capacity,
        needed: int,
        window_usd: Decimal,
        cheaper: dict[str, Any] | None = None,
    ) -> Finding:
        """`cheaper`: the cheaper GPU option's figures where it saves less, for evidence."""
        count = len(service.replicas)
        saved = window_usd * (count - needed) / count
        full = len(hourly) >= 0.9 * ctx.days * 24
        sizing = (
            f"max(1, ceil({rate(demand)} tokens/s x {1 + self.headroom:g}"
            f" / {rate(cap.per_replica)} tokens/s)) = {plural(needed, 'replica')}"
        )
        what = plural(needed, "replica")
        return Finding(
            key=service.key,
            title=f"Run {service.name} on {what} instead of {count}",
            action=(
                f"Run {service.name} on {what} instead of {count}: its"
                f" busiest hours (p95) carried {rate(demand)} tokens/s and {cap.because}."
            ),
            monthly_saving_usd=monthly(saved, ctx),
            arithmetic=(
                f"{sizing}; "
                + monthly_arithmetic(
                    saved, ctx, f"${cents(window_usd)} x ({count} - {needed}) / {count} replicas"
                )
            ),
            confidence=Confidence.HIGH if cap.source == "profiling" and full else Confidence.MEDIUM,
            evidence={
                "option": "fewer_replicas",
                "service": service.name,
                "model": service.model,
                "replicas": [f"{d.name} on {d.node.name}" for d in service.replicas],
                # What a done recommendation measures its saving on: every replica.
                "deployment_ids": [d.pk for d in service.replicas],
                "hours": len(hourly),
                "demand_p95_tokens_per_s": round(demand, 3),
                "capacity_per_replica_tokens_per_s": round(cap.per_replica, 3),
                "capacity_source": cap.source,
                "capacity": cap.evidence,
                "headroom": self.headroom,
                "needed": needed,
                "window_usd": str(cents(window_usd)),
                "cheaper_gpu": cheaper,
                "chart": demand_chart(service, hourly, demand, what, needed * cap.per_replica),
            },
            deployment_id=service.replicas[0].pk,
        )
