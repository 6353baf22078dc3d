"""Rule 2's second option, not a rule of its own: a service moved to a cheaper GPU model.

Only on measured evidence: another service serving the same model on a GPU model
whose on-demand book price is below what the service's GPUs cost now carried its
busiest hour per GPU within both services' latency targets (capacity.peer_hours),
and that GPU model's memory holds the service's peak memory per GPU.
"""

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db.models import Max

from costs.choices import PricingKind
from costs.models import CostRecord, PriceBookEntry
from inferscope.lib.money import HOURS_PER_MONTH
from recommendations.choices import Confidence
from recommendations.rules.base import Context, Finding
from recommendations.rules.capacity import PeerHour
from recommendations.rules.data import cents, monthly, monthly_arithmetic
from recommendations.rules.replicas import (
    Service,
    demand_chart,
    gpu_key,
    plural,
    rate,
    replicas_needed,
)
from telemetry.choices import Resolution
from telemetry.models import GpuRollup

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


def on_demand_book(ctx: Context) -> dict[str, Decimal]:
    """Each canonical GPU model's on-demand $ per GPU-hour valid on ctx.end's date."""
    book: dict[str, Decimal] = {}
    entries = PriceBookEntry.objects.filter(
        kind=PricingKind.ON_DEMAND, valid_from__lte=ctx.end.date()
    ).order_by("valid_from")
    for entry in entries:
        book[entry.gpu_model] = entry.usd_per_gpu_hour
    return book


def _rate_now(ctx: Context, ids: list[int]) -> Decimal | None:
    """The lowest rate any of the service's GPUs was charged in its latest priced hour:
    a cheaper model must undercut every one of them."""
    latest: dict[int, tuple[datetime, Decimal]] = {}
    records = CostRecord.objects.filter(
        hour__gte=ctx.start,
        hour__lt=ctx.end,
        deployment_id__in=ids,
        priced=True,
        rate_usd_per_hour__gt=0,
    ).values_list("gpu_id", "hour", "rate_usd_per_hour")
    for gpu, hour, usd in records:
        if gpu not in latest or hour > latest[gpu][0]:
            latest[gpu] = (hour, usd)
    return min((usd for _, usd in latest.values()), default=None)


def _peak_memory(ctx: Context, gpu_ids: list[int]) -> int | None:
    """The most memory one of the GPUs used in an hour of the window; None unless
    every one of them reported it."""
    peaks = dict(
        GpuRollup.objects.filter(
            resolution=Resolution.HOUR,
            bucket__gte=ctx.start,
            bucket__lt=ctx.end,
            gpu_id__in=gpu_ids,
            mem_used_max__isnull=False,
        )
        .values("gpu")
        .annotate(peak=Max("mem_used_max"))
        .values_list("gpu", "peak")
    )
    if not gpu_ids or set(peaks) != set(gpu_ids):
        return None
    return max(peaks.values())


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
    rate_now = _rate_now(ctx, [d.pk for d in service.replicas]) if booked else None
    cheaper = {m: price for m, price in booked.items() if rate_now and price < rate_now}
    peak = _peak_memory(ctx, [g.pk for g in gpus]) if cheaper else None
    if rate_now is None or peak is None:
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
                rate_now=rate_now,
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


def _usd(value: Decimal) -> str:
    """$ per GPU-hour: to the cent, or to the book's 4 places where it has them."""
    exact = value.quantize(Decimal("0.0001")).normalize()
    return str(cents(value)) if exact == cents(value) else f"{exact:f}"


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
            + f"; on {o.gpu_model}: {o.needed} x ${_usd(o.price)} per GPU-hour on demand"
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
            "usd_per_gpu_hour_now": _usd(o.rate_now),
            "gpu_model": o.gpu_model,
            "needed": o.needed,
            "usd_per_gpu_hour": _usd(o.price),
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
            "chart": demand_chart(service, hourly, demand, target, o.needed * hour.per_gpu),
        },
        deployment_id=service.replicas[0].pk,
    )
