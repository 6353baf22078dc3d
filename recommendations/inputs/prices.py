"""What GPUs cost and what they would cost under another price: the price book and
node prices valid on a day, each GPU's hours and charged rate over a window, and its
busy hours. Read by the pricing and underused rules."""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from django.db.models import Count, F, Max, OuterRef, Q, Subquery, Sum

from collectors.models import Gpu
from costs.choices import NodePricingKind, PricingKind
from costs.gpu_models import canonical_model
from costs.models import CostRecord, NodePrice, PriceBookEntry
from recommendations.context import Context
from telemetry.choices import Resolution
from telemetry.models import GpuRollup


@dataclass(frozen=True)
class GpuWindow:
    """One GPU over the window as its cost records tell it."""

    pk: int
    name: str
    node_id: int
    node_name: str
    model: str
    gpu_hours: float
    rate: Decimal
    # A MIG instance's share of its GPU: its GPU-hours are that share of its hours.
    fraction: float = 1.0

    @property
    def hours(self) -> float:
        """Hours the device was present (a MIG instance's hours, not its GPU-hours)."""
        return self.gpu_hours / self.fraction


class Prices:
    """Book prices by kind and each node's pricing kind, valid on one day. PriceList
    only prices a GPU under its node's own kind; these rules ask what another kind
    would cost, so they read the book the same way (latest valid_from on or before)."""

    def __init__(self, day: date) -> None:
        self.day = day
        self._book: dict[tuple[str, str], Decimal] = {}
        for entry in PriceBookEntry.objects.filter(valid_from__lte=day).order_by("valid_from"):
            self._book[(entry.gpu_model, entry.kind)] = entry.usd_per_gpu_hour
        self._kinds: dict[int, str] = {}
        for price in NodePrice.objects.filter(valid_from__lte=day).order_by("valid_from"):
            self._kinds[price.node_id] = price.kind

    def on_demand(self, node_id: int) -> bool:
        return self._kinds.get(node_id, NodePricingKind.ON_DEMAND) == NodePricingKind.ON_DEMAND

    def price(self, model: str, kind: str) -> Decimal | None:
        return self._book.get((model, kind))


def gpu_windows(ctx: Context, ids: Iterable[int] | None = None) -> list[GpuWindow]:
    """GPUs costed in the window with their GPU-hours and the rate last charged."""
    records = CostRecord.objects.filter(hour__gte=ctx.start, hour__lt=ctx.end)
    if ids is not None:
        records = records.filter(gpu_id__in=list(ids))
    hours = dict(records.values("gpu").annotate(h=Sum("gpu_hours")).values_list("gpu", "h"))
    latest = (
        records.filter(gpu=OuterRef("pk"), priced=True)
        .order_by("-hour")
        .values("rate_usd_per_hour")[:1]
    )
    gpus = Gpu.objects.filter(pk__in=hours).select_related("node").annotate(rate=Subquery(latest))
    return [
        GpuWindow(
            g.pk,
            str(g),
            g.node_id,
            g.node.name,
            canonical_model(g.model_name) or g.model_name,
            hours[g.pk] or 0.0,
            Decimal(g.rate),
            g.gpu_fraction,
        )
        for g in gpus
        if g.rate is not None
    ]


def util_hours(ctx: Context, ids: list[int], busy_pct: float) -> dict[int, tuple[int, int]]:
    """(hours at or over busy_pct average utilization, hours with utilization) per GPU."""
    rows = (
        GpuRollup.objects.filter(
            resolution=Resolution.HOUR, bucket__gte=ctx.start, bucket__lt=ctx.end, gpu_id__in=ids
        )
        .values("gpu")
        .annotate(
            seen=Count("id", filter=Q(util_n__gt=0)),
            busy=Count("id", filter=Q(util_n__gt=0, util_sum__gte=F("util_n") * busy_pct)),
        )
    )
    return {r["gpu"]: (r["busy"], r["seen"]) for r in rows}


def hourly_cost(
    ctx: Context, records: Any, scale: dict[int, Decimal] | None = None
) -> dict[datetime, tuple[float, Decimal]]:
    """Per hour: GPU-hours (or, given `scale`, $ scaled per GPU) and $, of `records`."""
    out: dict[datetime, tuple[float, Decimal]] = {}
    rows = (
        records.filter(hour__gte=ctx.start, hour__lt=ctx.end)
        .values("hour", "gpu")
        .annotate(h=Sum("gpu_hours"), usd=Sum("usd"))
    )
    for row in rows:
        first, usd = out.get(row["hour"], (0.0, Decimal(0)))
        part = float(row["usd"] * scale[row["gpu"]]) if scale else row["h"]
        out[row["hour"]] = (round(first + part, 6), usd + row["usd"])
    return out


def on_demand_book(ctx: Context) -> dict[str, Decimal]:
    """Each canonical GPU model's on-demand $ per GPU-hour valid on ctx.end's date."""
    book: dict[str, Decimal] = {}
    entries = PriceBookEntry.objects.filter(
        kind=PricingKind.ON_DEMAND, valid_from__lte=ctx.end.date()
    ).order_by("valid_from")
    for entry in entries:
        book[entry.gpu_model] = entry.usd_per_gpu_hour
    return book


def rate_now(ctx: Context, ids: list[int]) -> Decimal | None:
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


def peak_memory(ctx: Context, gpu_ids: list[int]) -> int | None:
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
