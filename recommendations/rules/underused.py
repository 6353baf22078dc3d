"""Rule 2: a service whose busiest hours fit on fewer replicas than it runs: run fewer,
or on a cheaper GPU model where peers show one carries it (cheaper_gpu), whichever
saves more.

The cheaper GPU option needs measured evidence: another service serving the same
model on a GPU model whose on-demand book price is below what the service's GPUs
cost now carried its busiest hour per GPU within both services' latency targets
(capacity.peer_hours), and that GPU model's memory holds the service's peak memory
per GPU.

A service is the deployments of one name and model across nodes, its replicas. What
one replica can carry comes from the service's own profiling sweep, else from other
services serving the same model on the same GPU model, else from the replicas' live
capacity estimates (capacity.py); daily_troughs reads the same.
"""

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from recommendations.choices import Confidence
from recommendations.explain.chart import demand_chart
from recommendations.explain.money import cents, monthly, monthly_arithmetic
from recommendations.explain.words import plural, rate
from recommendations.inputs.capacity import Capacity, capacity, peer_hours
from recommendations.inputs.prices import on_demand_book
from recommendations.inputs.replicas import HEADROOM, Service, load_services, p95, replicas_needed
from recommendations.inputs.window import deployment_costs
from recommendations.rules import register
from recommendations.rules.base import Context, Finding, StagedRule
from recommendations.rules.cheaper_gpu import (
    CheaperGpu,
    GpuFacts,
    cheaper_finding,
    cheaper_gpu,
    gpu_facts,
)


@dataclass(frozen=True)
class ServiceInputs:
    """One service over the window, with what it would take to run it on less."""

    ctx: Context
    service: Service
    hourly: dict[datetime, float]  # its tokens/s each hour it reported
    window_usd: Decimal  # its replicas' $
    cap: Capacity | None  # what one replica carries, read where it runs two or more
    gpus: GpuFacts


@dataclass(frozen=True)
class Fewer:
    """The service on `needed` replicas instead of all it runs."""

    cap: Capacity
    needed: int
    window_saving: Decimal  # the window's $ x (replicas - needed) / replicas
    monthly_usd: Decimal
    full: bool  # traffic in most of the window

    def summary(self) -> dict[str, Any]:
        return {"needed": self.needed, "monthly_saving_usd": str(self.monthly_usd)}


@dataclass(frozen=True)
class Underused:
    demand: float  # p95 tokens/s of its hours
    option: Fewer | CheaperGpu  # the one that saves more
    other: Fewer | CheaperGpu | None  # the other, where it saves anything


@register
class UnderusedDeployments(StagedRule[ServiceInputs, Underused]):
    """Config: `headroom` (0.3): spare capacity kept above the p95 hour;
    `min_hours` (24): fewer hours of traffic than this say nothing; HIGH confidence
    in fewer replicas needs a profiled capacity and traffic in `full_share` (0.9) of
    the window's hours.

    Two options, one finding per service, the larger saving: fewer replicas, or the
    same service on a cheaper GPU model that peers showed can carry it (cheaper_gpu)."""

    name = "underused_deployments"
    headroom = HEADROOM
    min_hours = 24
    full_share = 0.9

    def gather(self, ctx: Context) -> list[ServiceInputs]:
        # A service with no replica running now is no entity to judge, but its hours
        # still show what a GPU model carried (peer_hours, capacity).
        services = load_services(ctx)
        running = [s for s in services if s.replicas]
        if not running:
            return []
        book = on_demand_book(ctx)
        costs = deployment_costs(ctx, [d.pk for s in running for d in s.replicas])
        return [self._inputs(ctx, s, services, book, costs) for s in running]

    @staticmethod
    def _inputs(
        ctx: Context,
        service: Service,
        services: list[Service],
        book: dict[str, Decimal],
        costs: dict[int, Decimal],
    ) -> ServiceInputs:
        peers = peer_hours(service, services)
        return ServiceInputs(
            ctx=ctx,
            service=service,
            hourly=service.hourly(),
            window_usd=sum((costs.get(d.pk, Decimal(0)) for d in service.replicas), Decimal(0)),
            # One replica has none to drop.
            cap=capacity(ctx, service, services, peers) if len(service.replicas) >= 2 else None,
            gpus=gpu_facts(ctx, service, peers, book),
        )

    def decide(self, inputs: ServiceInputs) -> Underused | None:
        if len(inputs.hourly) < self.min_hours or not inputs.service.replicas:
            return None
        if inputs.window_usd <= 0:
            return None  # unpriced: nothing to save that we can state
        demand = p95(list(inputs.hourly.values()))
        fewer = self._fewer(inputs, demand)
        cheaper = cheaper_gpu(inputs.ctx, inputs.gpus, demand, self.headroom, inputs.window_usd)
        if cheaper is not None and cheaper.saving > (fewer.monthly_usd if fewer else 0):
            return Underused(demand, cheaper, fewer)
        if fewer is not None:
            return Underused(demand, fewer, cheaper)
        return None

    def _fewer(self, inputs: ServiceInputs, demand: float) -> Fewer | None:
        count, cap = len(inputs.service.replicas), inputs.cap
        if cap is None or count < 2:
            return None
        needed = replicas_needed(demand, cap.per_replica, self.headroom)
        if needed >= count:
            return None
        saved = inputs.window_usd * (count - needed) / count
        full = len(inputs.hourly) >= self.full_share * inputs.ctx.days * 24
        return Fewer(cap, needed, saved, monthly(saved, inputs.ctx), full)

    def explain(self, inputs: ServiceInputs, decision: Underused) -> Finding:
        d = decision
        other = None if d.other is None else d.other.summary()
        if isinstance(d.option, CheaperGpu):
            return cheaper_finding(
                inputs.ctx, inputs.service, inputs.hourly, d.demand, d.option, other
            )
        return self._finding(inputs, d.demand, d.option, other)

    def _finding(
        self, inputs: ServiceInputs, demand: float, fewer: Fewer, cheaper: dict[str, Any] | None
    ) -> Finding:
        """`cheaper`: the cheaper GPU option's figures where it saves less, for evidence."""
        ctx, service, cap, needed = inputs.ctx, inputs.service, fewer.cap, fewer.needed
        count, window_usd = len(service.replicas), inputs.window_usd
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
            monthly_saving_usd=fewer.monthly_usd,
            arithmetic=(
                f"{sizing}; "
                + monthly_arithmetic(
                    fewer.window_saving,
                    ctx,
                    f"${cents(window_usd)} x ({count} - {needed}) / {count} replicas",
                )
            ),
            confidence=(
                Confidence.HIGH if cap.source == "profiling" and fewer.full else Confidence.MEDIUM
            ),
            evidence=self._evidence(inputs, demand, fewer, what, cheaper),
            deployment_id=service.replicas[0].pk,
        )

    def _evidence(
        self,
        inputs: ServiceInputs,
        demand: float,
        fewer: Fewer,
        what: str,
        cheaper: dict[str, Any] | None,
    ) -> dict[str, Any]:
        service, cap, hourly = inputs.service, fewer.cap, inputs.hourly
        return {
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
            "needed": fewer.needed,
            "window_usd": str(cents(inputs.window_usd)),
            "cheaper_gpu": cheaper,
            "chart": demand_chart(
                service.name, hourly, demand, what, fewer.needed * cap.per_replica
            ),
        }
