"""Rule 1: GPUs under 5% busy for most of the window cost money for nothing: release them."""

from decimal import Decimal

from django.db.models import Count, F, Q, Sum

from collectors.models import Gpu
from costs.choices import Resolution
from costs.models import CostRecord, GpuRollup
from recommendations.choices import Confidence
from recommendations.rules import register
from recommendations.rules.base import Context, Finding, Rule
from recommendations.rules.data import chart, hourly_gpu, monthly, monthly_arithmetic


@register
class IdleGpus(Rule):
    """Config: `busy_pct` (5): an hour under this average utilization is idle;
    `idle_share` (0.8): the share of the GPU's hours that must be idle;
    `min_hours` (24): fewer hours of data than this say nothing."""

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
        costs = dict(
            CostRecord.objects.filter(gpu_id__in=candidates, hour__gte=ctx.start, hour__lt=ctx.end)
            .values("gpu")
            .annotate(usd=Sum("usd"))
            .values_list("gpu", "usd")
        )
        series = hourly_gpu(ctx, candidates)
        findings = []
        for gpu in Gpu.objects.filter(pk__in=candidates).select_related("node"):
            usd = costs.get(gpu.pk) or Decimal(0)
            if usd <= 0:
                continue  # unpriced: nothing to save that we can state
            idle, seen = candidates[gpu.pk]
            rows = [r for r in series.get(gpu.pk, []) if r.util_n]
            name = f"{gpu.node.name} #{gpu.index} {gpu.model_name}".strip()
            full = seen >= 0.9 * ctx.days * 24
            findings.append(
                Finding(
                    key=f"gpu:{gpu.uuid}",
                    title=f"Release idle GPU {name}",
                    action=(
                        f"Release GPU {name}: it was under {self.busy_pct:g}% busy in {idle} of"
                        f" the {seen} hours it reported over the last {ctx.days} days."
                    ),
                    monthly_saving_usd=monthly(usd, ctx),
                    arithmetic=monthly_arithmetic(usd, ctx),
                    confidence=Confidence.HIGH if full else Confidence.MEDIUM,
                    evidence={
                        "idle_hours": idle,
                        "hours": seen,
                        "window_usd": str(usd),
                        "busy_pct": self.busy_pct,
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
