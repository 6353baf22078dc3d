"""Rule 1: GPUs under 5% busy for most of the window cost money for nothing: release them."""

from decimal import Decimal

from django.db.models import Count, F, Q, Sum

from collectors.models import Gpu
from costs.models import CostRecord
from recommendations.choices import Confidence
from recommendations.explain.chart import chart
from recommendations.explain.money import cents, monthly, monthly_arithmetic
from recommendations.inputs.window import hourly_gpu
from recommendations.rules import register
from recommendations.rules.base import Context, Finding, Rule
from telemetry.choices import Resolution
from telemetry.models import GpuRollup


@register
class IdleGpus(Rule):
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

    def evaluate(self, ctx: Context) -> list[Finding]:
        hours = (
            GpuRollup.objects.filter(
                resolution=Resolution.HOUR, bucket__gte=ctx.start, bucket__lt=ctx.end
            )
            .values("gpu")
            .annotate(
                seen=Count("id", filter=Q(util_n__gt=0)),
                idle=Count("id", filter=Q(util_n__gt=0, util_sum__lt=F("util_n") * self.busy_pct)),
            )
        )
        candidates = {
            row["gpu"]: (row["idle"], row["seen"])
            for row in hours
            if row["seen"] >= self.min_hours and row["idle"] >= self.idle_share * row["seen"]
        }
        if not candidates:
            return []
        # Attribution splits each record's $ into active and idle-held (a deployment
        # held its share but ran nothing); records without a deployment are truly idle.
        costs = {
            row["gpu"]: row
            for row in CostRecord.objects.filter(
                gpu_id__in=candidates, hour__gte=ctx.start, hour__lt=ctx.end
            )
            .values("gpu")
            .annotate(
                total=Sum("usd"),
                held=Sum("idle_held_usd"),
                held_hours=Sum("idle_held_hours"),
                truly=Sum("usd", filter=Q(deployment__isnull=True)),
            )
        }
        series = hourly_gpu(ctx, candidates)
        findings = []
        gpus = Gpu.objects.filter(pk__in=candidates).select_related("node")
        for gpu in gpus.prefetch_related("deployments"):
            split = costs.get(gpu.pk) or {}
            usd = split.get("total") or Decimal(0)
            held_usd = split.get("held") or Decimal(0)
            truly_usd = split.get("truly") or Decimal(0)
            if usd <= 0:
                continue  # unpriced: nothing to save that we can state
            idle, seen = candidates[gpu.pk]
            rows = [r for r in series.get(gpu.pk, []) if r.util_n]
            name = f"{gpu.node.name} #{gpu.index} {gpu.model_name}".strip()
            full = seen >= 0.9 * ctx.days * 24
            # A GPU a serving process holds (vLLM reserves most of its memory) looks
            # in use to everyone who checks memory: the action is to stop that server.
            held = sorted(d.name for d in gpu.deployments.all())
            held_by = ", ".join(held)
            idle_text = (
                f"under {self.busy_pct:g}% busy in {idle} of the {seen} hours it reported"
                f" over the last {ctx.days} days"
            )
            findings.append(
                Finding(
                    key=f"gpu:{gpu.uuid}",
                    title=(
                        f"Release idle GPU {name} held by {held_by}"
                        if held
                        else f"Release idle GPU {name}"
                    ),
                    action=(
                        f"Stop {held_by} on {gpu.node.name} and release GPU {name}: it held"
                        f" the GPU while it was {idle_text}{self._held_text(held, held_usd, usd)}."
                        if held
                        else f"Release GPU {name}: it was {idle_text}."
                    ),
                    monthly_saving_usd=monthly(usd, ctx),
                    arithmetic=monthly_arithmetic(usd, ctx),
                    confidence=Confidence.HIGH if full else Confidence.MEDIUM,
                    evidence={
                        "idle_hours": idle,
                        "hours": seen,
                        "window_usd": str(usd),
                        "busy_pct": self.busy_pct,
                        "held_by": held,
                        # The window's $ as attribution split it: what serving cost,
                        # what idle servers held, what nobody held.
                        "active_usd": str(usd - held_usd - truly_usd),
                        "idle_held_usd": str(held_usd),
                        "idle_held_hours": round(split.get("held_hours") or 0.0, 3),
                        "truly_idle_usd": str(truly_usd),
                        "chart": chart(
                            f"Hourly utilization of {name}",
                            [r.bucket for r in rows],
                            [("utilization %", [round(r.util_sum / r.util_n, 2) for r in rows])],
                            "% busy",
                            lines=[(f"{self.busy_pct:g}% idle threshold", self.busy_pct)],
                        ),
                    },
                    gpu_id=gpu.pk,
                    node_id=gpu.node_id,
                )
            )
        return findings

    @staticmethod
    def _held_text(held: list[str], held_usd: Decimal, usd: Decimal) -> str:
        """The idle-held part of the GPU's cost, where attribution found one."""
        if held_usd <= 0:
            return ""
        who = "it" if len(held) == 1 else "they"
        return (
            f", and ${cents(held_usd)} of the GPU's ${cents(usd)} in that time was charged"
            f" to {', '.join(held)} while {who} ran no request"
        )
