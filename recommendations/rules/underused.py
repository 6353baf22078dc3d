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

from inferscope.lib.money import HOURS_PER_MONTH
from recommendations.choices import Confidence
from recommendations.explain.chart import demand_chart
from recommendations.explain.money import cents, monthly, monthly_arithmetic, unit_price
from recommendations.explain.words import plural, rate
from recommendations.inputs.capacity import Capacity, PeerHour, capacity, peer_hours
from recommendations.inputs.prices import on_demand_book, rate_now
from recommendations.inputs.replicas import (
    HEADROOM,
    Service,
    gpu_key,
    load_services,
    p95,
    replicas_needed,
)
from recommendations.inputs.window import deployment_costs
from recommendations.rules import register
from recommendations.rules.base import Context, Finding, Rule
from telemetry.hourly import peak_memory

MONTH_HOURS = Decimal(str(HOURS_PER_MONTH))  # 730.5 = 30.4375 x 24
GIB = 2**30


@dataclass(frozen=True)
class CheaperGpu:
    """The service on `needed` GPUs of `gpu_model` instead of its `gpus_now` of `now`."""

    now: str
    gpus_now: int
    rate_now: Decimal  # the lowest $ per GPU-hour its GPUs' latest cost records used
    gpu_model: str
    price: Decimal  # the book's on-demand $ per GPU-hour of gpu_model
    hour: PeerHour
    headroom: float
    needed: int
    peak_bytes: int  # the most memory one of its GPUs used in an hour of the window
    memory_bytes: int  # the least memory of the peer's GPUs
    window_usd: Decimal
    monthly_now: Decimal
    monthly_then: Decimal

    @property
    def saving(self) -> Decimal:
        return self.monthly_now - self.monthly_then

    def summary(self) -> dict[str, Any]:
        return {
            "gpu_model": self.gpu_model,
            "needed": self.needed,
            "monthly_saving_usd": str(self.saving),
        }


def cheaper_gpu(
    ctx: Context,
    service: Service,
    peers: dict[str, PeerHour],
    book: dict[str, Decimal],
    demand: float,
    headroom: float,
    window_usd: Decimal,
) -> CheaperGpu | None:
    """The GPU model that saves most, where the service's replicas all run on one
    model; None where none saves anything or the evidence is missing."""
    gpus = [g for dep in service.replicas for g in service.gpus.get(dep.pk, [])]
    models = {gpu_key(g.model_name) for g in gpus}
    if len(models) != 1 or "" in models:
        return None
    now = models.pop()
    booked = {m: book[m] for m in peers if m != now and book.get(m, 0) > 0}
    now_rate = rate_now(ctx, [d.pk for d in service.replicas]) if booked else None
    cheaper = {m: price for m, price in booked.items() if now_rate and price < now_rate}
    peak = peak_memory(ctx.start, ctx.end, [g.pk for g in gpus]) if cheaper else None
    if now_rate is None or peak is None:
        return None
    options = []
    for gpu_model, price in sorted(cheaper.items()):
        hour = peers[gpu_model]
        memories = [g.memory_total_bytes or 0 for g in hour.gpus]
        if not all(memories) or min(memories) < peak:
            continue  # unknown, or the model would not fit
        needed = replicas_needed(demand, hour.per_gpu, headroom)
        options.append(
            CheaperGpu(
                now=now,
                gpus_now=len(gpus),
                rate_now=now_rate,
                gpu_model=gpu_model,
                price=price,
                hour=hour,
                headroom=headroom,
                needed=needed,
                peak_bytes=peak,
                memory_bytes=min(memories),
                window_usd=window_usd,
                monthly_now=monthly(window_usd, ctx),
                monthly_then=cents(needed * price * MONTH_HOURS),
            )
        )
    best = max(options, key=lambda o: o.saving, default=None)
    return best if best is not None and best.saving > 0 else None


def _gib(n: int) -> str:
    return f"{n / GIB:,.3g}"


def cheaper_finding(
    ctx: Context,
    service: Service,
    hourly: dict[datetime, float],
    demand: float,
    option: CheaperGpu,
    fewer: dict[str, Any] | None,
) -> Finding:
    """`fewer`: the fewer-replicas option's figures where it saves less, for evidence."""
    o, hour = option, option.hour
    itl, _ = service.slo()
    target = plural(o.needed, f"{o.gpu_model} GPU")
    return Finding(
        key=service.key,
        title=f"Move {service.name} from {o.gpus_now} {o.now} to {target}",
        action=(
            f"Move {service.name} from {o.gpus_now} {o.now} to {target}: {hour.peer.name},"
            f" serving the same model on {o.gpu_model}, carried {rate(hour.per_gpu)} tokens/s"
            f" per GPU at p95 ITL {hour.itl_ms:.0f} ms (target {itl:g} ms) in its busiest"
            f" such hour; {service.name}'s busiest hours (p95) need {rate(demand)} tokens/s,"
            f" and its peak memory of {_gib(o.peak_bytes)} GiB per GPU fits their"
            f" {_gib(o.memory_bytes)} GiB."
        ),
        monthly_saving_usd=o.saving,
        arithmetic=(
            f"max(1, ceil({rate(demand)} tokens/s x {1 + o.headroom:g}"
            f" / {rate(hour.per_gpu)} tokens/s per GPU)) = {target}; now: "
            + monthly_arithmetic(o.window_usd, ctx)
            + f"; on {o.gpu_model}: {o.needed} x ${unit_price(o.price)} per GPU-hour on demand"
            f" x {MONTH_HOURS} h = ${o.monthly_then} per month;"
            f" saving ${o.monthly_now} - ${o.monthly_then} = ${o.saving} per month"
        ),
        # Another service's hours, not this one's: its request mix, settings and
        # traffic shape may differ, so what it carried is evidence, not a measurement.
        confidence=Confidence.MEDIUM,
        evidence={
            "option": "cheaper_gpu",
            "service": service.name,
            "model": service.model,
            "replicas": [f"{d.name} on {d.node.name}" for d in service.replicas],
            # What a done recommendation measures its saving on: every replica.
            "deployment_ids": [d.pk for d in service.replicas],
            "hours": len(hourly),
            "demand_p95_tokens_per_s": round(demand, 3),
            "headroom": o.headroom,
            "gpu_model_now": o.now,
            "gpus_now": o.gpus_now,
            "usd_per_gpu_hour_now": unit_price(o.rate_now),
            "gpu_model": o.gpu_model,
            "needed": o.needed,
            "usd_per_gpu_hour": unit_price(o.price),
            "price": f"price book, on demand, valid on {ctx.end.date().isoformat()}",
            "peer": {
                "service": hour.peer.name,
                "deployment": hour.row.deployment_id,
                "hour": hour.row.bucket.isoformat(),
                "gpus": len(hour.gpus),
                "tokens_per_s_per_gpu": hour.per_gpu,
                "itl_p95_ms": hour.itl_ms,
            },
            "peak_memory_bytes": o.peak_bytes,
            "gpu_memory_bytes": o.memory_bytes,
            "window_usd": str(cents(o.window_usd)),
            "monthly_now_usd": str(o.monthly_now),
            "monthly_then_usd": str(o.monthly_then),
            "fewer_replicas": fewer,
            "confidence_why": (
                f"medium: what one {o.gpu_model} carries is {hour.peer.name}'s busiest"
                f" hour within the targets, not {service.name}'s own measurement; its"
                " request mix and settings may differ"
            ),
            "chart": demand_chart(service.name, hourly, demand, target, o.needed * hour.per_gpu),
        },
        deployment_id=service.replicas[0].pk,
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
                "chart": demand_chart(service.name, hourly, demand, what, needed * cap.per_replica),
            },
            deployment_id=service.replicas[0].pk,
        )
