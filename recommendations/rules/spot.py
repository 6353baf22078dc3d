"""Rule 9's spot judgement: a deployment marked interruptible runs for less on spot
capacity. Registered as part of the pricing rule (rules/pricing.py), which judges it
first."""

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from collectors.models import Deployment, DeploymentSettings
from costs.choices import PricingKind
from costs.spend import CostCell, cost_cells
from recommendations.choices import Confidence
from recommendations.explain.chart import chart
from recommendations.explain.money import cents, monthly, monthly_arithmetic, unit_price
from recommendations.inputs.prices import GpuWindow, Prices, gpu_windows, hourly_cost
from recommendations.rules.base import Context, Finding, StagedRule

NONE = (0.0, Decimal(0))  # an hour without a cost record: no GPU-hours, no $


@dataclass(frozen=True)
class SpotGpu:
    """A GPU an interruptible deployment ran on, as its cost records tell it."""

    window: GpuWindow
    spot: Decimal | None  # the book's spot $ per GPU-hour of its model
    on_demand: bool  # its node is priced on demand


@dataclass(frozen=True)
class SpotInputs:
    """A deployment marked interruptible that cost something in the window."""

    ctx: Context
    deployment: Deployment
    by_gpu: dict[int, Decimal]  # its $ on each GPU
    gpus: dict[int, SpotGpu]  # those GPUs costed with a rate in the window
    cells: tuple[CostCell, ...]  # its $ and GPU-hours per hour and GPU


@dataclass(frozen=True)
class SpotGroup:
    """The deployment's $ on GPUs of one model at one on-demand rate and spot price."""

    model: str
    rate: Decimal
    spot: Decimal
    usd: Decimal


@dataclass(frozen=True)
class Spot:
    scale: dict[int, Decimal]  # spot price / on-demand rate of each GPU
    groups: tuple[SpotGroup, ...]
    cost: Decimal  # the window's $, to the cent
    window_saving: Decimal  # $ x (1 - spot / rate) over the window, to the cent
    monthly_usd: Decimal
    hours: int  # hours it was costed in
    full: bool


class SpotPrices(StagedRule[SpotInputs, Spot]):
    """Pricing's spot judgement, its config as Pricing's docstring states it."""

    name = "pricing"
    min_hours = 24
    full_share = 0.9

    def __init__(self, prices: Prices | None = None):
        self.prices = prices  # read once for both of Pricing's judgements

    def gather(self, ctx: Context) -> list[SpotInputs]:
        interruptible = DeploymentSettings.objects.filter(interruptible=True).select_related(
            "deployment"
        )
        deployments = {s.deployment_id: s.deployment for s in interruptible}
        if not deployments:
            return []
        prices = self.prices or Prices(ctx.end.date())
        cells: dict[int, list[CostCell]] = defaultdict(list)
        for cell in cost_cells(
            ctx.start, ctx.end, ("deployment", "hour", "gpu"), deployment_ids=list(deployments)
        ):
            cells[cell.deployment_id or 0].append(cell)
        shares: dict[int, dict[int, Decimal]] = defaultdict(dict)
        for cell in cost_cells(
            ctx.start, ctx.end, ("deployment", "gpu"), deployment_ids=list(deployments)
        ):
            if cell.deployment_id is not None and cell.gpu_id is not None:
                shares[cell.deployment_id][cell.gpu_id] = cell.usd
        gpus = {
            g.pk: SpotGpu(g, prices.price(g.model, PricingKind.SPOT), prices.on_demand(g.node_id))
            for g in gpu_windows(ctx, {gpu for s in shares.values() for gpu in s})
        }
        return [
            SpotInputs(
                ctx=ctx,
                deployment=deployments[dep_id],
                by_gpu=by_gpu,
                gpus={gpu: gpus[gpu] for gpu in by_gpu if gpu in gpus},
                cells=tuple(cells[dep_id]),
            )
            for dep_id, by_gpu in shares.items()
        ]

    def decide(self, inputs: SpotInputs) -> Spot | None:
        rates = _spot_rates(inputs)
        if rates is None or not sum(inputs.by_gpu.values()):
            return None
        hours = len({c.hour for c in inputs.cells})
        if hours < self.min_hours:
            return None
        usd: dict[tuple[str, Decimal, Decimal], Decimal] = defaultdict(Decimal)
        for gpu, share in inputs.by_gpu.items():
            usd[(inputs.gpus[gpu].window.model, *rates[gpu])] += share
        groups = tuple(SpotGroup(*key, share) for key, share in usd.items())
        saving = cents(sum((g.usd * (1 - g.spot / g.rate) for g in groups), Decimal(0)))
        return Spot(
            scale={gpu: spot / rate for gpu, (rate, spot) in rates.items()},
            groups=groups,
            cost=cents(sum(inputs.by_gpu.values(), Decimal(0))),
            window_saving=saving,
            monthly_usd=monthly(saving, inputs.ctx),
            hours=hours,
            full=hours >= self.full_share * inputs.ctx.days * 24,
        )

    def explain(self, inputs: SpotInputs, decision: Spot) -> Finding:
        ctx, dep, d = inputs.ctx, inputs.deployment, decision
        terms, prices = [], []
        for g in d.groups:
            terms.append(f"${cents(g.usd)} x (1 - ${unit_price(g.spot)} / ${unit_price(g.rate)})")
            per = f"per {g.model} GPU-hour" if len(d.groups) > 1 else "per GPU-hour"
            prices.append(f"${unit_price(g.spot)} instead of ${unit_price(g.rate)} {per}")
        return Finding(
            key=f"spot:deployment:{dep.pk}",
            title=f"Run {dep.name} on spot capacity",
            action=(
                f"Run {dep.name} on spot capacity ({'; '.join(prices)}): it is marked"
                f" interruptible and cost ${d.cost:,} in the last {ctx.days} days."
            ),
            monthly_saving_usd=d.monthly_usd,
            arithmetic=f"{' + '.join(terms)} = {monthly_arithmetic(d.window_saving, ctx)}",
            confidence=Confidence.HIGH if d.full else Confidence.MEDIUM,
            evidence=self._evidence(inputs, d),
            deployment_id=dep.pk,
            node_id=dep.node_id,
        )

    @staticmethod
    def _evidence(inputs: SpotInputs, d: Spot) -> dict[str, Any]:
        ctx, dep = inputs.ctx, inputs.deployment
        hourly = hourly_cost(inputs.cells, d.scale)
        x = hours_of(ctx)
        return {
            "window_cost_usd": str(d.cost),
            "window_saving_usd": str(d.window_saving),
            "hours": d.hours,
            "gpu_ids": sorted(inputs.by_gpu),
            "price_day": ctx.end.date().isoformat(),
            "confidence_why": (
                f"costed in {d.hours} of {ctx.days * 24} hours; spot prices move"
                " with the market and an interruption redoes work in flight"
            ),
            "chart": chart(
                f"{dep.name}: cost per hour",
                x,
                [
                    ("on-demand $", [float(hourly.get(h, NONE)[1]) for h in x]),
                    ("on spot $", [hourly.get(h, NONE)[0] for h in x]),
                ],
                "$ per hour",
            ),
        }


def _spot_rates(inputs: SpotInputs) -> dict[int, tuple[Decimal, Decimal]] | None:
    """(on-demand rate, spot price) of each GPU the deployment ran on, or None where
    one is not on-demand or has no cheaper spot price: a move of part of it is not
    one change a person can make."""
    out = {}
    for gpu in inputs.by_gpu:
        g = inputs.gpus.get(gpu)
        if g is None or g.spot is None or not g.on_demand or g.window.rate <= g.spot:
            return None
        out[gpu] = (g.window.rate, g.spot)
    return out


def hours_of(ctx: Context) -> list[datetime]:
    return [ctx.start + timedelta(hours=h) for h in range(ctx.days * 24)]


__all__ = ["NONE", "SpotInputs", "SpotPrices", "hours_of"]
