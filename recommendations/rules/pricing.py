"""Rule 9: on-demand GPUs that run around the clock cost less on a reserved/committed
price, and work that may be interrupted costs less on spot capacity.

Two staged judgements under one rule name: reserved per node (ReservedPrices) and
spot per interruptible deployment (rules/spot.py). Spot is judged first because a GPU
it moves is left out of reserving: spot saves more."""

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any, Literal

from costs.choices import PricingKind
from costs.spend import CostCell, cost_cells
from recommendations.choices import Confidence
from recommendations.explain.chart import chart
from recommendations.explain.money import cents, monthly, monthly_arithmetic, unit_price
from recommendations.inputs.prices import GpuWindow, Prices, gpu_windows, hourly_cost
from recommendations.rules import register
from recommendations.rules.base import Context, Finding, Rule, StagedRule
from recommendations.rules.spot import NONE, SpotPrices, hours_of
from telemetry.hourly import util_hours

Reason = Literal["spot", "data", "idle"]


@dataclass(frozen=True)
class ReservedGpu:
    """An on-demand GPU whose model has a reserved price, with its hourly utilization."""

    window: GpuWindow
    reserved: Decimal  # the book's reserved $ per GPU-hour of its model
    busy: int  # hourly rollups at or over the busy mark
    seen: int  # hourly rollups with utilization


@dataclass(frozen=True)
class NodeInputs:
    """One on-demand node's GPUs that have a reserved price, in the fleet's GPU order."""

    ctx: Context
    price_day: date
    gpus: tuple[ReservedGpu, ...]
    on_spot: frozenset[int]  # GPUs the spot judgement moves
    cells: tuple[CostCell, ...]  # the GPUs' $ and GPU-hours per hour and GPU


@dataclass(frozen=True)
class PriceGroup:
    """The reserved GPUs of one model at one on-demand rate."""

    model: str
    rate: Decimal
    price: Decimal
    gpus: tuple[GpuWindow, ...]

    @property
    def gpu_hours(self) -> Decimal:
        return Decimal(str(round(sum(g.gpu_hours for g in self.gpus), 6)))


@dataclass(frozen=True)
class Reserved:
    gpus: tuple[GpuWindow, ...]  # to reserve
    left_out: tuple[tuple[ReservedGpu, Reason], ...]  # present all along, not reserved
    groups: tuple[PriceGroup, ...]
    window_saving: Decimal  # GPU-hours x (rate - price) over the window, to the cent
    monthly_usd: Decimal
    full: bool  # every one's utilization measured in most of the window


class ReservedPrices(StagedRule[NodeInputs, Reserved]):
    """Pricing's reserved judgement, its config as Pricing's docstring states it.
    `prices`: read once for both judgements; `on_spot`: the GPUs spot moves."""

    name = "pricing"
    present_share = 0.95
    busy_pct = 5.0
    busy_share = 0.5
    min_util_hours = 24
    full_share = 0.9

    def __init__(self, prices: Prices | None = None, on_spot: frozenset[int] = frozenset()):
        self.prices = prices
        self.on_spot = on_spot

    def gather(self, ctx: Context) -> list[NodeInputs]:
        prices = self.prices or Prices(ctx.end.date())
        priced = [
            (g, price)
            for g in gpu_windows(ctx)
            if (price := prices.price(g.model, PricingKind.RESERVED)) is not None
            and prices.on_demand(g.node_id)
        ]
        if not priced:
            return []
        node_of = {g.pk: g.node_id for g, _ in priced}
        util = util_hours(ctx.start, ctx.end, self.busy_pct, list(node_of))
        by_node: dict[int, list[ReservedGpu]] = defaultdict(list)
        for g, price in priced:
            by_node[g.node_id].append(ReservedGpu(g, price, *util.get(g.pk, (0, 0))))
        cells: dict[int, list[CostCell]] = defaultdict(list)
        for cell in cost_cells(ctx.start, ctx.end, ("hour", "gpu"), gpu_ids=list(node_of)):
            cells[node_of[cell.gpu_id or 0]].append(cell)
        return [
            NodeInputs(ctx, prices.day, tuple(gpus), self.on_spot, tuple(cells[node]))
            for node, gpus in by_node.items()
        ]

    def decide(self, inputs: NodeInputs) -> Reserved | None:
        window_hours = inputs.ctx.days * 24
        kept: list[ReservedGpu] = []
        left_out: list[tuple[ReservedGpu, Reason]] = []
        for g in inputs.gpus:
            if g.window.rate <= g.reserved or g.window.hours < self.present_share * window_hours:
                continue  # no cheaper, or not there to keep busy: no case to make
            reason = self._reason(g, inputs.on_spot)
            if reason is None:
                kept.append(g)
            else:
                left_out.append((g, reason))
        if not kept:
            return None
        groups = _groups(kept)
        saving = cents(sum((p.gpu_hours * (p.rate - p.price) for p in groups), Decimal(0)))
        return Reserved(
            gpus=tuple(g.window for g in kept),
            left_out=tuple(left_out),
            groups=groups,
            window_saving=saving,
            monthly_usd=monthly(saving, inputs.ctx),
            full=all(g.seen >= self.full_share * window_hours for g in kept),
        )

    def _reason(self, g: ReservedGpu, on_spot: frozenset[int]) -> Reason | None:
        """Why a GPU present all along is not reserved; None where it is."""
        if g.window.pk in on_spot:
            return "spot"
        if g.seen < self.min_util_hours:
            return "data"
        if g.busy < self.busy_share * g.seen:
            return "idle"
        return None

    def explain(self, inputs: NodeInputs, decision: Reserved) -> Finding:
        ctx, d = inputs.ctx, decision
        node, window_hours = d.gpus[0].node_name, ctx.days * 24
        ran = int(min(g.hours for g in d.gpus))
        they = "they" if len(d.gpus) > 1 else "it"
        terms = [
            f"{_num(p.gpu_hours)} GPU-hours x (${unit_price(p.rate)} - ${unit_price(p.price)})"
            for p in d.groups
        ]
        return Finding(
            key=f"reserved:node:{d.gpus[0].node_id}",
            title=f"Reserve {node}'s steady on-demand GPUs",
            action=(
                f"Move {_what(node, d.groups)}: {they} ran {ran} of {window_hours} hours in"
                f" the last {ctx.days} days."
            ),
            monthly_saving_usd=d.monthly_usd,
            arithmetic=f"{' + '.join(terms)} = {monthly_arithmetic(d.window_saving, ctx)}",
            confidence=Confidence.HIGH if d.full else Confidence.MEDIUM,
            evidence=self._evidence(inputs, d),
            node_id=d.gpus[0].node_id,
        )

    @staticmethod
    def _evidence(inputs: NodeInputs, d: Reserved) -> dict[str, Any]:
        kept = {g.pk for g in d.gpus}
        hourly = hourly_cost(c for c in inputs.cells if c.gpu_id in kept)
        x = hours_of(inputs.ctx)
        return {
            "gpus": [
                {"gpu": g.name, "gpu_hours": g.gpu_hours, "on_demand": str(g.rate)} for g in d.gpus
            ],
            "window_saving_usd": str(d.window_saving),
            "window_hours": inputs.ctx.days * 24,
            "left_out": [_left_out(g, reason) for g, reason in d.left_out],
            "price_day": inputs.price_day.isoformat(),
            "confidence_why": (
                "utilization measured in the whole window"
                if d.full
                else "utilization measured in part of the window only"
            ),
            "chart": chart(
                f"GPUs of {d.gpus[0].node_name} present each hour",
                x,
                [("GPUs present", [hourly.get(h, NONE)[0] for h in x])],
                "GPUs",
                lines=[("GPUs to reserve", float(len(d.gpus)))],
            ),
        }


def _groups(kept: Sequence[ReservedGpu]) -> tuple[PriceGroup, ...]:
    members: dict[tuple[str, Decimal, Decimal], list[GpuWindow]] = defaultdict(list)
    for g in kept:
        members[(g.window.model, g.window.rate, g.reserved)].append(g.window)
    return tuple(PriceGroup(*key, tuple(gpus)) for key, gpus in members.items())


def _what(node: str, groups: Sequence[PriceGroup]) -> str:
    parts = [
        (
            f"{len(p.gpus)} {p.model} GPU{'s' if len(p.gpus) > 1 else ''}",
            f"${unit_price(p.price)} instead of ${unit_price(p.rate)} per GPU-hour",
        )
        for p in groups
    ]
    if len(parts) == 1:
        return f"{node}'s {parts[0][0]} to a reserved/committed price ({parts[0][1]})"
    listed = " and ".join(f"{n} ({p})" for n, p in parts)
    return f"{node}'s {listed} to a reserved/committed price"


def _left_out(g: ReservedGpu, reason: Reason) -> str:
    name = g.window.name
    if reason == "spot":
        return f"{name}: runs interruptible work, spot saves more"
    if reason == "data":
        return f"{name}: {g.seen} hours of utilization data"
    return (
        f"{name}: busy in {g.busy} of {g.seen} hours; releasing it (idle_gpus)"
        " saves more than reserving it"
    )


def _num(value: Decimal) -> str:
    return f"{value.normalize():f}"


@register
class Pricing(Rule):
    """Config: the price book and node prices valid at the window's end decide.
    Reserved: a GPU on an on-demand node whose model has a reserved price, present
    `present_share` (0.95) of the window's hours, and busy (util >= `busy_pct`, 5%)
    in at least `busy_share` (0.5) of at least `min_util_hours` (24) hourly rollups;
    a mostly idle GPU is left to idle_gpus. Spot: a deployment marked interruptible,
    costed in at least `min_hours` (24) hours on on-demand GPUs whose model has a
    spot price. The current price is the rate the GPU's latest cost record used; no
    finding where that is not above the cheaper price. HIGH confidence needs
    `full_share` (0.9) of the window's hours measured."""

    name = "pricing"

    def evaluate(self, ctx: Context) -> list[Finding]:
        prices = Prices(ctx.end.date())
        spot = SpotPrices(prices).evaluate(ctx)
        on_spot = frozenset(gpu for finding in spot for gpu in finding.evidence["gpu_ids"])
        return ReservedPrices(prices, on_spot).evaluate(ctx) + spot


__all__ = ["NodeInputs", "Pricing", "Reserved", "ReservedGpu", "ReservedPrices"]
