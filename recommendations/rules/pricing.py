"""Rule 9: on-demand GPUs that run around the clock cost less on a reserved/committed
price, and work that may be interrupted costs less on spot capacity."""

from collections import defaultdict
from datetime import datetime, timedelta
from decimal import Decimal

from collectors.models import Deployment, DeploymentSettings
from costs.choices import PricingKind
from costs.spend import cost_cells
from recommendations.choices import Confidence
from recommendations.explain.chart import chart
from recommendations.explain.money import cents, monthly, monthly_arithmetic, unit_price
from recommendations.inputs.prices import GpuWindow, Prices, gpu_windows, hourly_cost
from recommendations.rules import register
from recommendations.rules.base import Context, Finding, Rule
from telemetry.hourly import util_hours


def _spot_rates(
    by_gpu: dict[int, Decimal], gpus: dict[int, GpuWindow], prices: Prices
) -> dict[int, tuple[Decimal, Decimal]] | None:
    """(on-demand rate, spot price) of each GPU the deployment ran on, or None where
    one is not on-demand or has no cheaper spot price: a move of part of it is not
    one change a person can make."""
    out = {}
    for gpu in by_gpu:
        window = gpus.get(gpu)
        spot = prices.price(window.model, PricingKind.SPOT) if window else None
        if window is None or spot is None or not prices.on_demand(window.node_id):
            return None
        if window.rate <= spot:
            return None
        out[gpu] = (window.rate, spot)
    return out


_NONE = (0.0, Decimal(0))


def _hours(ctx: Context) -> list[datetime]:
    return [ctx.start + timedelta(hours=h) for h in range(ctx.days * 24)]


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
    present_share = 0.95
    busy_pct = 5.0
    busy_share = 0.5
    min_util_hours = 24
    min_hours = 24
    full_share = 0.9

    def evaluate(self, ctx: Context) -> list[Finding]:
        prices = Prices(ctx.end.date())
        spot = self._spot(ctx, prices)
        on_spot = {gpu for finding in spot for gpu in finding.evidence["gpu_ids"]}
        return self._reserved(ctx, prices, on_spot) + spot

    def _reserved(self, ctx: Context, prices: Prices, on_spot: set[int]) -> list[Finding]:
        window_hours = ctx.days * 24
        reserved: dict[int, Decimal] = {}
        candidates = []
        for g in gpu_windows(ctx):
            price = prices.price(g.model, PricingKind.RESERVED)
            if price is None or g.rate <= price or not prices.on_demand(g.node_id):
                continue
            if g.hours >= self.present_share * window_hours:
                reserved[g.pk] = price
                candidates.append(g)
        util = util_hours(ctx.start, ctx.end, self.busy_pct, [g.pk for g in candidates])
        by_node: dict[int, list[GpuWindow]] = defaultdict(list)
        left_out: dict[int, list[str]] = defaultdict(list)
        for g in candidates:
            busy, seen = util.get(g.pk, (0, 0))
            if g.pk in on_spot:
                left_out[g.node_id].append(f"{g.name}: runs interruptible work, spot saves more")
            elif seen < self.min_util_hours:
                left_out[g.node_id].append(f"{g.name}: {seen} hours of utilization data")
            elif busy < self.busy_share * seen:
                left_out[g.node_id].append(
                    f"{g.name}: busy in {busy} of {seen} hours; releasing it (idle_gpus)"
                    " saves more than reserving it"
                )
            else:
                by_node[g.node_id].append(g)
        findings = []
        for node_id, gpus in by_node.items():
            cells = cost_cells(ctx.start, ctx.end, ("hour", "gpu"), gpu_ids=[g.pk for g in gpus])
            hourly = hourly_cost(cells)
            full = all(util[g.pk][1] >= self.full_share * window_hours for g in gpus)
            findings.append(
                self._reserved_finding(ctx, prices, gpus, reserved, left_out[node_id], hourly, full)
            )
        return findings

    def _reserved_finding(
        self,
        ctx: Context,
        prices: Prices,
        gpus: list[GpuWindow],
        reserved: dict[int, Decimal],
        left_out: list[str],
        hourly: dict[datetime, tuple[float, Decimal]],
        full: bool,
    ) -> Finding:
        groups: dict[tuple[str, Decimal, Decimal], list[GpuWindow]] = defaultdict(list)
        for g in gpus:
            groups[(g.model, g.rate, reserved[g.pk])].append(g)
        terms, parts, saving = [], [], Decimal(0)
        for (model, rate, price), members in groups.items():
            hours = Decimal(str(round(sum(g.gpu_hours for g in members), 6)))
            saving += hours * (rate - price)
            terms.append(f"{_num(hours)} GPU-hours x (${unit_price(rate)} - ${unit_price(price)})")
            parts.append(
                (
                    f"{len(members)} {model} GPU{'s' if len(members) > 1 else ''}",
                    f"${unit_price(price)} instead of ${unit_price(rate)} per GPU-hour",
                )
            )
        saving = cents(saving)
        node = gpus[0].node_name
        window_hours = ctx.days * 24
        ran = int(min(g.hours for g in gpus))
        if len(parts) == 1:
            what = f"{node}'s {parts[0][0]} to a reserved/committed price ({parts[0][1]})"
        else:
            listed = " and ".join(f"{n} ({p})" for n, p in parts)
            what = f"{node}'s {listed} to a reserved/committed price"
        they = "they" if len(gpus) > 1 else "it"
        x = _hours(ctx)
        return Finding(
            key=f"reserved:node:{gpus[0].node_id}",
            title=f"Reserve {node}'s steady on-demand GPUs",
            action=(
                f"Move {what}: {they} ran {ran} of {window_hours} hours in the last"
                f" {ctx.days} days."
            ),
            monthly_saving_usd=monthly(saving, ctx),
            arithmetic=f"{' + '.join(terms)} = {monthly_arithmetic(saving, ctx)}",
            confidence=Confidence.HIGH if full else Confidence.MEDIUM,
            evidence={
                "gpus": [
                    {"gpu": g.name, "gpu_hours": g.gpu_hours, "on_demand": str(g.rate)}
                    for g in gpus
                ],
                "window_saving_usd": str(saving),
                "window_hours": window_hours,
                "left_out": left_out,
                "price_day": prices.day.isoformat(),
                "confidence_why": (
                    "utilization measured in the whole window"
                    if full
                    else "utilization measured in part of the window only"
                ),
                "chart": chart(
                    f"GPUs of {node} present each hour",
                    x,
                    [("GPUs present", [hourly.get(h, _NONE)[0] for h in x])],
                    "GPUs",
                    lines=[("GPUs to reserve", float(len(gpus)))],
                ),
            },
            node_id=gpus[0].node_id,
        )

    def _spot(self, ctx: Context, prices: Prices) -> list[Finding]:
        interruptible = DeploymentSettings.objects.filter(interruptible=True).select_related(
            "deployment"
        )
        deployments = {s.deployment_id: s.deployment for s in interruptible}
        if not deployments:
            return []
        shares: dict[int, dict[int, Decimal]] = defaultdict(dict)
        for cell in cost_cells(
            ctx.start, ctx.end, ("deployment", "gpu"), deployment_ids=list(deployments)
        ):
            if cell.deployment_id is not None and cell.gpu_id is not None:
                shares[cell.deployment_id][cell.gpu_id] = cell.usd
        gpus = {g.pk: g for g in gpu_windows(ctx, {gpu for s in shares.values() for gpu in s})}
        findings = []
        for dep_id, by_gpu in shares.items():
            rates = _spot_rates(by_gpu, gpus, prices)
            if rates is None or not sum(by_gpu.values()):
                continue
            scale = {gpu: spot / rate for gpu, (rate, spot) in rates.items()}
            cells = cost_cells(ctx.start, ctx.end, ("hour", "gpu"), deployment_ids=[dep_id])
            hourly = hourly_cost(cells, scale)
            if len(hourly) < self.min_hours:
                continue
            findings.append(
                self._spot_finding(ctx, deployments[dep_id], by_gpu, rates, gpus, hourly)
            )
        return findings

    def _spot_finding(
        self,
        ctx: Context,
        dep: Deployment,
        by_gpu: dict[int, Decimal],
        rates: dict[int, tuple[Decimal, Decimal]],
        gpus: dict[int, GpuWindow],
        hourly: dict[datetime, tuple[float, Decimal]],
    ) -> Finding:
        groups: dict[tuple[str, Decimal, Decimal], Decimal] = defaultdict(Decimal)
        for gpu, usd in by_gpu.items():
            groups[(gpus[gpu].model, *rates[gpu])] += usd
        terms, prices, saving = [], [], Decimal(0)
        for (model, rate, spot_rate), usd in groups.items():
            saving += usd * (1 - spot_rate / rate)
            terms.append(f"${cents(usd)} x (1 - ${unit_price(spot_rate)} / ${unit_price(rate)})")
            per = f"per {model} GPU-hour" if len(groups) > 1 else "per GPU-hour"
            prices.append(f"${unit_price(spot_rate)} instead of ${unit_price(rate)} {per}")
        saving = cents(saving)
        cost = cents(sum(by_gpu.values()))
        full = len(hourly) >= self.full_share * ctx.days * 24
        x = _hours(ctx)
        return Finding(
            key=f"spot:deployment:{dep.pk}",
            title=f"Run {dep.name} on spot capacity",
            action=(
                f"Run {dep.name} on spot capacity ({'; '.join(prices)}): it is marked"
                f" interruptible and cost ${cost:,} in the last {ctx.days} days."
            ),
            monthly_saving_usd=monthly(saving, ctx),
            arithmetic=f"{' + '.join(terms)} = {monthly_arithmetic(saving, ctx)}",
            confidence=Confidence.HIGH if full else Confidence.MEDIUM,
            evidence={
                "window_cost_usd": str(cost),
                "window_saving_usd": str(saving),
                "hours": len(hourly),
                "gpu_ids": sorted(by_gpu),
                "price_day": ctx.end.date().isoformat(),
                "confidence_why": (
                    f"costed in {len(hourly)} of {ctx.days * 24} hours; spot prices move"
                    " with the market and an interruption redoes work in flight"
                ),
                "chart": chart(
                    f"{dep.name}: cost per hour",
                    x,
                    [
                        ("on-demand $", [float(hourly.get(h, _NONE)[1]) for h in x]),
                        ("on spot $", [hourly.get(h, _NONE)[0] for h in x]),
                    ],
                    "$ per hour",
                ),
            },
            deployment_id=dep.pk,
            node_id=dep.node_id,
        )
