"""What GPUs cost and what they would cost under another price: the price book and
node prices valid on a day, each GPU's hours and charged rate over a window (from
costs.spend). Read by the pricing and underused rules."""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from collectors.models import Gpu
from costs.choices import NodePricingKind, PricingKind
from costs.gpu_models import canonical_model
from costs.models import NodePrice, PriceBookEntry
from costs.spend import CostCell, cost_cells, gpu_rates
from recommendations.context import Context


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
    gpu_ids = None if ids is None else list(ids)
    cells = cost_cells(ctx.start, ctx.end, ("gpu",), gpu_ids=gpu_ids)
    hours = {c.gpu_id: c.gpu_hours for c in cells}
    rates = gpu_rates(ctx.start, ctx.end, gpu_ids=gpu_ids)
    gpus = Gpu.objects.filter(pk__in=[pk for pk in hours if pk in rates]).select_related("node")
    return [
        GpuWindow(
            g.pk,
            str(g),
            g.node_id,
            g.node.name,
            canonical_model(g.model_name) or g.model_name,
            hours[g.pk],
            Decimal(rates[g.pk]),
            g.gpu_fraction,
        )
        for g in gpus
    ]


def hourly_cost(
    cells: Iterable[CostCell], scale: dict[int, Decimal] | None = None
) -> dict[datetime, tuple[float, Decimal]]:
    """Per hour: GPU-hours (or, given `scale`, $ scaled per GPU) and $, of cost_cells
    grouped by hour and GPU."""
    out: dict[datetime, tuple[float, Decimal]] = {}
    for cell in cells:
        assert cell.hour is not None and cell.gpu_id is not None, cell
        first, usd = out.get(cell.hour, (0.0, Decimal(0)))
        part = float(cell.usd * scale[cell.gpu_id]) if scale else cell.gpu_hours
        out[cell.hour] = (round(first + part, 6), usd + cell.usd)
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
    rates = gpu_rates(ctx.start, ctx.end, deployment_ids=ids, charged=True)
    return min(rates.values(), default=None)
