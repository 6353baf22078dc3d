"""Rule 1: GPUs under 5% busy for most of the window cost money for nothing: release them."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from collectors.models import Gpu
from costs.spend import CostCell, cost_cells
from recommendations.choices import Confidence
from recommendations.explain.chart import chart
from recommendations.explain.money import cents, monthly, monthly_arithmetic
from recommendations.rules import register
from recommendations.rules.base import Context, Finding, StagedRule
from telemetry.hourly import GpuHour, hourly_gpu, util_hours

ZERO = Decimal(0)


@dataclass(frozen=True)
class GpuInputs:
    """One GPU that reported utilization in the window, with its $ as attribution split it."""

    ctx: Context
    gpu_id: int
    uuid: str
    name: str
    node_id: int
    node_name: str
    held_by: tuple[str, ...]  # deployments on the GPU, by name
    idle_hours: int
    hours: int  # hours with utilization
    usd: Decimal
    idle_held_usd: Decimal  # held by a deployment that ran nothing
    idle_held_hours: float
    truly_idle_usd: Decimal  # held by nobody
    util: tuple[tuple[datetime, float], ...] = ()  # (hour, average %), idle GPUs only


@dataclass(frozen=True)
class IdleDecision:
    monthly_usd: Decimal
    full: bool  # utilization measured in most of the window


@register
class IdleGpus(StagedRule[GpuInputs, IdleDecision]):
    """Config: `busy_pct` (5): an hour under this average utilization is idle;
    `idle_share` (0.8): the share of the GPU's hours that must be idle;
    `min_hours` (24): fewer hours of data than this say nothing.

    The evidence splits the GPU's window $ as attribution did: active, idle-held (a
    deployment held its share and ran nothing) and truly idle (nobody held it); the
    action names the idle-held part where a server holds the GPU."""

    name = "idle_gpus"
    busy_pct = 5.0
    idle_share = 0.8
    min_hours = 24
    full_share = 0.9

    def idle(self, idle_hours: int, hours: int) -> bool:
        return hours >= self.min_hours and idle_hours >= self.idle_share * hours

    def gather(self, ctx: Context) -> list[GpuInputs]:
        counts = {
            gpu: (seen - busy, seen)
            for gpu, (busy, seen) in util_hours(ctx.start, ctx.end, self.busy_pct).items()
            if seen
        }
        # The hourly rows only draw the chart: read them for the GPUs that are idle.
        series = hourly_gpu(ctx.start, ctx.end, [g for g, c in counts.items() if self.idle(*c)])
        cells = {
            c.gpu_id: c for c in cost_cells(ctx.start, ctx.end, ("gpu",), gpu_ids=list(counts))
        }
        gpus = Gpu.objects.filter(pk__in=counts).select_related("node")
        return [
            self._inputs(ctx, gpu, counts[gpu.pk], cells.get(gpu.pk), series.get(gpu.pk, []))
            for gpu in gpus.prefetch_related("deployments")
        ]

    @staticmethod
    def _inputs(
        ctx: Context,
        gpu: Gpu,
        counts: tuple[int, int],
        cell: CostCell | None,
        rows: Sequence[GpuHour],
    ) -> GpuInputs:
        return GpuInputs(
            ctx=ctx,
            gpu_id=gpu.pk,
            uuid=gpu.uuid,
            name=f"{gpu.node.name} #{gpu.index} {gpu.model_name}".strip(),
            node_id=gpu.node_id,
            node_name=gpu.node.name,
            held_by=tuple(sorted(d.name for d in gpu.deployments.all())),
            idle_hours=counts[0],
            hours=counts[1],
            usd=cell.usd if cell else ZERO,
            idle_held_usd=cell.idle_held_usd if cell else ZERO,
            idle_held_hours=cell.idle_held_hours if cell else 0.0,
            truly_idle_usd=cell.unheld_usd if cell else ZERO,
            util=tuple((r.bucket, round(r.util_sum / r.util_n, 2)) for r in rows if r.util_n),
        )

    def decide(self, inputs: GpuInputs) -> IdleDecision | None:
        if not self.idle(inputs.idle_hours, inputs.hours):
            return None
        if inputs.usd <= 0:
            return None  # unpriced: nothing to save that we can state
        full = inputs.hours >= self.full_share * inputs.ctx.days * 24
        return IdleDecision(monthly(inputs.usd, inputs.ctx), full)

    def explain(self, inputs: GpuInputs, decision: IdleDecision) -> Finding:
        i, ctx = inputs, inputs.ctx
        return Finding(
            key=f"gpu:{i.uuid}",
            title=f"Release idle GPU {i.name}"
            + (f" held by {self._held_by(i)}" if i.held_by else ""),
            action=self._action(i),
            monthly_saving_usd=decision.monthly_usd,
            arithmetic=monthly_arithmetic(i.usd, ctx),
            confidence=Confidence.HIGH if decision.full else Confidence.MEDIUM,
            evidence={
                "idle_hours": i.idle_hours,
                "hours": i.hours,
                "window_usd": str(i.usd),
                "busy_pct": self.busy_pct,
                "held_by": list(i.held_by),
                # The window's $ as attribution split it: what serving cost,
                # what idle servers held, what nobody held.
                "active_usd": str(i.usd - i.idle_held_usd - i.truly_idle_usd),
                "idle_held_usd": str(i.idle_held_usd),
                "idle_held_hours": round(i.idle_held_hours, 3),
                "truly_idle_usd": str(i.truly_idle_usd),
                "chart": chart(
                    f"Hourly utilization of {i.name}",
                    [hour for hour, _ in i.util],
                    [("utilization %", [pct for _, pct in i.util])],
                    "% busy",
                    lines=[(f"{self.busy_pct:g}% idle threshold", self.busy_pct)],
                ),
            },
            gpu_id=i.gpu_id,
            node_id=i.node_id,
        )

    @staticmethod
    def _held_by(i: GpuInputs) -> str:
        return ", ".join(i.held_by)

    def _action(self, i: GpuInputs) -> str:
        # A GPU a serving process holds (vLLM reserves most of its memory) looks
        # in use to everyone who checks memory: the action is to stop that server.
        idle_text = (
            f"under {self.busy_pct:g}% busy in {i.idle_hours} of the {i.hours} hours it"
            f" reported over the last {i.ctx.days} days"
        )
        if not i.held_by:
            return f"Release GPU {i.name}: it was {idle_text}."
        return (
            f"Stop {self._held_by(i)} on {i.node_name} and release GPU {i.name}: it held"
            f" the GPU while it was {idle_text}{self._held_text(i)}."
        )

    @staticmethod
    def _held_text(i: GpuInputs) -> str:
        """The idle-held part of the GPU's cost, where attribution found one."""
        if i.idle_held_usd <= 0:
            return ""
        who = "it" if len(i.held_by) == 1 else "they"
        return (
            f", and ${cents(i.idle_held_usd)} of the GPU's ${cents(i.usd)} in that time was"
            f" charged to {', '.join(i.held_by)} while {who} ran no request"
        )
