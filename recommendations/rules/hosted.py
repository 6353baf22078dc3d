"""Rule 10: a deployment whose traffic a hosted API would serve for less than its GPUs cost."""

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from costs.breakeven import BreakEven, break_even
from costs.models import HostedAlternative
from costs.selectors import cost_by
from costs.spend import cost_cells
from recommendations.choices import Confidence
from recommendations.explain.chart import chart
from recommendations.explain.money import monthly, monthly_arithmetic, unit_price
from recommendations.rules import register
from recommendations.rules.base import Context, Finding, StagedRule
from telemetry.hourly import hourly_traffic

MILLION = Decimal(1_000_000)

# break_even() scales a window to a month by HOURS_PER_MONTH / window hours and
# monthly() by DAYS_PER_MONTH / days: both are 365.25 / 12 days (the tests hold
# them to it), so its volumes and the $ restated here agree.


@dataclass(frozen=True)
class HostedInputs:
    """A deployment with a hosted alternative, over the window."""

    ctx: Context
    be: BreakEven
    window_usd: Decimal  # its cost records' $
    cost_hours: int  # hours with a cost record
    traffic_hours: int  # hourly rollups
    prompt_tokens: int
    generation_tokens: int


@dataclass(frozen=True)
class HostedDecision:
    hosted_usd: Decimal  # the window's tokens at the API's prices
    self_monthly: Decimal
    hosted_monthly: Decimal
    full: bool

    @property
    def saving(self) -> Decimal:
        return self.self_monthly - self.hosted_monthly


@register
class HostedApi(StagedRule[HostedInputs, HostedDecision]):
    """Config: one HostedAlternative per deployment names the API and its $ per 1M
    input and output tokens. Fires where the API, priced at the deployment's own
    prompt/generated mix and volume, costs less a month than its GPUs did. Needs
    cost records in at least `min_hours` (24) hours and traffic in as many hourly
    rollups; no tokens at all is idle_gpus's case. HIGH confidence needs both in
    `full_share` (0.9) of the window's hours."""

    name = "hosted_api"
    min_hours = 24
    full_share = 0.9

    def gather(self, ctx: Context) -> list[HostedInputs]:
        alternatives = list(HostedAlternative.objects.select_related("deployment__node"))
        if not alternatives:
            return []
        ids = [a.deployment_id for a in alternatives]
        rows = cost_by(ctx.start, ctx.end, "deployment")
        costs = {
            c.deployment_id: c
            for c in cost_cells(ctx.start, ctx.end, ("deployment",), deployment_ids=ids)
        }
        traffic = hourly_traffic(ctx.start, ctx.end, ids)
        out = []
        for alternative in alternatives:
            cell = costs.get(alternative.deployment_id)
            hours = traffic.get(alternative.deployment_id, [])
            out.append(
                HostedInputs(
                    ctx=ctx,
                    be=break_even(alternative, ctx.start, ctx.end, rows),
                    window_usd=cell.usd if cell else Decimal(0),
                    cost_hours=cell.hours if cell else 0,
                    traffic_hours=len(hours),
                    prompt_tokens=sum(r.prompt_tokens for r in hours),
                    generation_tokens=sum(r.generation_tokens for r in hours),
                )
            )
        return out

    def decide(self, inputs: HostedInputs) -> HostedDecision | None:
        i, ctx, alternative = inputs, inputs.ctx, inputs.be.alternative
        if i.cost_hours < self.min_hours or i.traffic_hours < self.min_hours:
            return None
        if not i.prompt_tokens + i.generation_tokens:
            return None
        # The $ are restated in Decimal from the window's own figures: break_even's
        # floats can fall either side of a half cent.
        hosted_usd = (
            i.prompt_tokens * alternative.usd_per_1m_input
            + i.generation_tokens * alternative.usd_per_1m_output
        ) / MILLION
        self_monthly, hosted_monthly = monthly(i.window_usd, ctx), monthly(hosted_usd, ctx)
        if not self_monthly or hosted_monthly >= self_monthly:
            return None  # self-hosting is cheaper: the status quo, not an action
        full = min(i.cost_hours, i.traffic_hours) >= self.full_share * ctx.days * 24
        return HostedDecision(hosted_usd, self_monthly, hosted_monthly, full)

    def explain(self, inputs: HostedInputs, decision: HostedDecision) -> Finding:
        ctx, be, d = inputs.ctx, inputs.be, decision
        dep, alternative = be.deployment, be.alternative
        self_monthly, hosted_monthly, saving = d.self_monthly, d.hosted_monthly, d.saving
        monthly_tokens = be.monthly_tokens
        even = be.break_even_tokens_per_month
        even_text = f" (break-even at {_tokens(even)} tokens a month)" if even else ""
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
                f"{monthly_arithmetic(inputs.window_usd, ctx, 'self-hosted')};"
                f" {monthly_arithmetic(d.hosted_usd, ctx, self._hosted_what(inputs))};"
                f" saving ${self_monthly} - ${hosted_monthly} = ${saving} per month"
            ),
            confidence=Confidence.HIGH if d.full else Confidence.MEDIUM,
            evidence=self._evidence(inputs, decision),
            deployment_id=dep.pk,
            node_id=dep.node_id,
        )

    @staticmethod
    def _evidence(inputs: HostedInputs, d: HostedDecision) -> dict[str, Any]:
        be, dep = inputs.be, inputs.be.deployment
        self_monthly, hosted_monthly = d.self_monthly, d.hosted_monthly
        return {
            "self_hosted_monthly_usd": str(self_monthly),
            "hosted_monthly_usd": str(hosted_monthly),
            "prompt_tokens": inputs.prompt_tokens,
            "generation_tokens": inputs.generation_tokens,
            "monthly_tokens": be.monthly_tokens,
            "hosted_usd_per_1m_tokens": be.hosted_usd_per_1m_tokens,
            "break_even_tokens_per_month": be.break_even_tokens_per_month,
            "cost_hours": inputs.cost_hours,
            "confidence_why": (
                f"cost and traffic measured in {'' if d.full else 'part of '}the window;"
                " whether the hosted model answers as well is not measured"
            ),
            "chart": chart(
                f"{dep.name}: $ per month",
                ["self-hosted", be.alternative.name],
                [("$ per month", [float(self_monthly), float(hosted_monthly)])],
                "$ per month",
                kind="bar",
            ),
        }

    @staticmethod
    def _hosted_what(inputs: HostedInputs) -> str:
        alternative = inputs.be.alternative
        return (
            f"hosted ({_tokens(inputs.prompt_tokens)} prompt"
            f" x ${unit_price(alternative.usd_per_1m_input)}"
            f" + {_tokens(inputs.generation_tokens)} generated"
            f" x ${unit_price(alternative.usd_per_1m_output)} per 1M tokens)"
        )


def _tokens(count: float) -> str:
    """120.5M, 45.2k: token volumes as people say them."""
    for size, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if count >= size:
            return f"{count / size:,.1f}".removesuffix(".0") + suffix
    return f"{count:,.0f}"
