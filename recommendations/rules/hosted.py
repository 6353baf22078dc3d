"""Rule 10: a deployment whose traffic a hosted API would serve for less than its GPUs cost."""

from decimal import Decimal

from django.db.models import Count, Sum

from costs.breakeven import BreakEven, break_even
from costs.models import CostRecord, HostedAlternative
from costs.selectors import cost_by
from recommendations.choices import Confidence
from recommendations.explain.chart import chart
from recommendations.explain.money import monthly, monthly_arithmetic, unit_price
from recommendations.inputs.window import hourly_traffic
from recommendations.rules import register
from recommendations.rules.base import Context, Finding, Rule

MILLION = Decimal(1_000_000)

# break_even() scales a window to a month by HOURS_PER_MONTH / window hours and
# monthly() by DAYS_PER_MONTH / days: both are 365.25 / 12 days (the tests hold
# them to it), so its volumes and the $ restated here agree.


@register
class HostedApi(Rule):
    """Config: one HostedAlternative per deployment names the API and its $ per 1M
    input and output tokens. Fires where the API, priced at the deployment's own
    prompt/generated mix and volume, costs less a month than its GPUs did. Needs
    cost records in at least `min_hours` (24) hours and traffic in as many hourly
    rollups; no tokens at all is idle_gpus's case. HIGH confidence needs both in
    `full_share` (0.9) of the window's hours."""

    name = "hosted_api"
    min_hours = 24
    full_share = 0.9

    def evaluate(self, ctx: Context) -> list[Finding]:
        alternatives = list(HostedAlternative.objects.select_related("deployment__node"))
        if not alternatives:
            return []
        rows = cost_by(ctx.start, ctx.end, "deployment")
        traffic = hourly_traffic(ctx, [a.deployment_id for a in alternatives])
        findings = []
        for alternative in alternatives:
            dep = alternative.deployment
            costed = CostRecord.objects.filter(
                deployment=dep, hour__gte=ctx.start, hour__lt=ctx.end
            ).aggregate(usd=Sum("usd"), hours=Count("hour", distinct=True))
            cost_hours = costed["hours"] or 0
            hours = traffic.get(dep.pk, [])
            prompt = sum(r.prompt_tokens for r in hours)
            generated = sum(r.generation_tokens for r in hours)
            if cost_hours < self.min_hours or len(hours) < self.min_hours:
                continue
            if not prompt + generated:
                continue
            be = break_even(alternative, ctx.start, ctx.end, rows)
            # The $ are restated in Decimal from the window's own figures: break_even's
            # floats can fall either side of a half cent.
            window_usd = costed["usd"] or Decimal(0)
            hosted_usd = (
                prompt * alternative.usd_per_1m_input + generated * alternative.usd_per_1m_output
            ) / MILLION
            self_monthly, hosted_monthly = monthly(window_usd, ctx), monthly(hosted_usd, ctx)
            if not self_monthly or hosted_monthly >= self_monthly:
                continue  # self-hosting is cheaper: the status quo, not an action
            full = min(cost_hours, len(hours)) >= self.full_share * ctx.days * 24
            findings.append(
                self._finding(
                    ctx, be, (prompt, generated), (window_usd, hosted_usd), cost_hours, full
                )
            )
        return findings

    def _finding(
        self,
        ctx: Context,
        be: BreakEven,
        tokens: tuple[int, int],
        window: tuple[Decimal, Decimal],
        cost_hours: int,
        full: bool,
    ) -> Finding:
        dep, alternative = be.deployment, be.alternative
        self_monthly, hosted_monthly = monthly(window[0], ctx), monthly(window[1], ctx)
        saving = self_monthly - hosted_monthly
        monthly_tokens = be.monthly_tokens
        even = be.break_even_tokens_per_month
        even_text = f" (break-even at {_tokens(even)} tokens a month)" if even else ""
        hosted_what = (
            f"hosted ({_tokens(tokens[0])} prompt x ${unit_price(alternative.usd_per_1m_input)}"
            f" + {_tokens(tokens[1])} generated x ${unit_price(alternative.usd_per_1m_output)}"
            " per 1M tokens)"
        )
        return Finding(
            key=f"hosted:deployment:{dep.pk}",
            title=f"Serve {dep.name} from {alternative.name}",
            action=(
                f"Route {dep.name}'s traffic to {alternative.name}: at its"
                f" {_tokens(monthly_tokens)} tokens a month the API would cost"
                f" ${hosted_monthly:,} against ${self_monthly:,} on its GPUs{even_text}."
            ),
            monthly_saving_usd=saving,
            arithmetic=(
                f"{monthly_arithmetic(window[0], ctx, 'self-hosted')};"
                f" {monthly_arithmetic(window[1], ctx, hosted_what)};"
                f" saving ${self_monthly} - ${hosted_monthly} = ${saving} per month"
            ),
            confidence=Confidence.HIGH if full else Confidence.MEDIUM,
            evidence={
                "self_hosted_monthly_usd": str(self_monthly),
                "hosted_monthly_usd": str(hosted_monthly),
                "prompt_tokens": tokens[0],
                "generation_tokens": tokens[1],
                "monthly_tokens": monthly_tokens,
                "hosted_usd_per_1m_tokens": be.hosted_usd_per_1m_tokens,
                "break_even_tokens_per_month": even,
                "cost_hours": cost_hours,
                "confidence_why": (
                    f"cost and traffic measured in {'' if full else 'part of '}the window;"
                    " whether the hosted model answers as well is not measured"
                ),
                "chart": chart(
                    f"{dep.name}: $ per month",
                    ["self-hosted", alternative.name],
                    [("$ per month", [float(self_monthly), float(hosted_monthly)])],
                    "$ per month",
                    kind="bar",
                ),
            },
            deployment_id=dep.pk,
            node_id=dep.node_id,
        )


def _tokens(count: float) -> str:
    """120.5M, 45.2k: token volumes as people say them."""
    for size, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if count >= size:
            return f"{count / size:,.1f}".removesuffix(".0") + suffix
    return f"{count:,.0f}"
