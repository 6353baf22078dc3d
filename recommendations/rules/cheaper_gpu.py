"""Rule 2's second option (underused.py): the same service on a cheaper GPU model that
peers showed can carry it. Its facts (gpu_facts), its pure choice (cheaper_gpu) and
its finding (cheaper_finding)."""

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from inferscope.lib.money import HOURS_PER_MONTH
from recommendations.choices import Confidence
from recommendations.explain.chart import demand_chart
from recommendations.explain.money import cents, monthly, monthly_arithmetic, unit_price
from recommendations.explain.words import plural, rate
from recommendations.inputs.capacity import PeerHour
from recommendations.inputs.prices import rate_now
from recommendations.inputs.replicas import Service, gpu_key, replicas_needed
from recommendations.rules.base import Context, Finding
from telemetry.hourly import peak_memory

MONTH_HOURS = Decimal(str(HOURS_PER_MONTH))  # 730.5 = 30.4375 x 24
GIB = 2**30


@dataclass(frozen=True)
class GpuFacts:
    """What the service runs on now, and what its peers ran on and the book charges."""

    now: str | None  # the GPU model of every replica; None where they differ or one is unknown
    gpus_now: int
    rate_now: Decimal | None  # the lowest $ per GPU-hour its GPUs' latest cost records used
    peak_bytes: int | None  # the most memory one of its GPUs used in an hour of the window
    peers: dict[str, PeerHour]  # per GPU model, a peer's busiest hour within the targets
    book: dict[str, Decimal]  # on-demand $ per GPU-hour per GPU model


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


def _booked(
    now: str | None, peers: dict[str, PeerHour], book: dict[str, Decimal]
) -> dict[str, Decimal]:
    """The peers' other GPU models that the book prices."""
    return {m: book[m] for m in peers if m != now and book.get(m, 0) > 0}


def gpu_facts(
    ctx: Context, service: Service, peers: dict[str, PeerHour], book: dict[str, Decimal]
) -> GpuFacts:
    gpus = [g for dep in service.replicas for g in service.gpus.get(dep.pk, [])]
    models = {gpu_key(g.model_name) for g in gpus}
    now = models.pop() if len(models) == 1 and "" not in models else None
    # The rate and the memory are read only where some peer's model could undercut it.
    booked = _booked(now, peers, book) if now is not None else {}
    rate = rate_now(ctx, [d.pk for d in service.replicas]) if booked else None
    cheaper = rate and any(price < rate for price in booked.values())
    peak = peak_memory(ctx.start, ctx.end, [g.pk for g in gpus]) if cheaper else None
    return GpuFacts(now, len(gpus), rate, peak, peers, book)


def cheaper_gpu(
    ctx: Context, facts: GpuFacts, demand: float, headroom: float, window_usd: Decimal
) -> CheaperGpu | None:
    """The GPU model that saves most, where the service's replicas all run on one
    model; None where none saves anything or the evidence is missing. Pure."""
    now, now_rate, peak = facts.now, facts.rate_now, facts.peak_bytes
    if now is None or not now_rate or peak is None:
        return None
    options = []
    for gpu_model, price in sorted(_booked(now, facts.peers, facts.book).items()):
        hour = facts.peers[gpu_model]
        memories = [g.memory_total_bytes or 0 for g in hour.gpus]
        if price >= now_rate or not all(memories) or min(memories) < peak:
            continue  # no cheaper, unknown memory, or the model would not fit
        needed = replicas_needed(demand, hour.per_gpu, headroom)
        options.append(
            CheaperGpu(
                now=now,
                gpus_now=facts.gpus_now,
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
        arithmetic=_arithmetic(ctx, demand, o, target),
        # Another service's hours, not this one's: its request mix, settings and
        # traffic shape may differ, so what it carried is evidence, not a measurement.
        confidence=Confidence.MEDIUM,
        evidence=_evidence(ctx, service, hourly, demand, o, target, fewer),
        deployment_id=service.replicas[0].pk,
    )


def _arithmetic(ctx: Context, demand: float, o: CheaperGpu, target: str) -> str:
    return (
        f"max(1, ceil({rate(demand)} tokens/s x {1 + o.headroom:g}"
        f" / {rate(o.hour.per_gpu)} tokens/s per GPU)) = {target}; now: "
        + monthly_arithmetic(o.window_usd, ctx)
        + f"; on {o.gpu_model}: {o.needed} x ${unit_price(o.price)} per GPU-hour on demand"
        f" x {MONTH_HOURS} h = ${o.monthly_then} per month;"
        f" saving ${o.monthly_now} - ${o.monthly_then} = ${o.saving} per month"
    )


def _evidence(
    ctx: Context,
    service: Service,
    hourly: dict[datetime, float],
    demand: float,
    o: CheaperGpu,
    target: str,
    fewer: dict[str, Any] | None,
) -> dict[str, Any]:
    hour = o.hour
    return {
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
        "peer": _peer(hour),
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
    }


def _peer(hour: PeerHour) -> dict[str, Any]:
    return {
        "service": hour.peer.name,
        "deployment": hour.row.deployment_id,
        "hour": hour.row.bucket.isoformat(),
        "gpus": len(hour.gpus),
        "tokens_per_s_per_gpu": hour.per_gpu,
        "itl_p95_ms": hour.itl_ms,
    }


__all__ = ["CheaperGpu", "GpuFacts", "cheaper_finding", "cheaper_gpu", "gpu_facts"]
