"""Self-hosting vs a hosted API: the monthly token volume above which self-hosting wins.

A deployment's GPUs cost about the same per month whatever traffic they serve,
while a hosted API charges per token. At the deployment's own prompt/generated
mix, break-even volume = monthly GPU cost / hosted $ per token.
"""

from dataclasses import dataclass
from datetime import datetime

from collectors.models import Deployment
from costs.models import HostedAlternative
from costs.selectors import CostRow, cost_by
from inferscope.lib.money import HOURS_PER_MONTH


@dataclass(frozen=True)
class BreakEven:
    deployment: Deployment
    alternative: HostedAlternative
    monthly_cost_usd: float
    monthly_tokens: float
    hosted_usd_per_1m_tokens: float
    hosted_monthly_usd: float
    break_even_tokens_per_month: float | None

    @property
    def self_hosting_cheaper(self) -> bool:
        return self.monthly_cost_usd <= self.hosted_monthly_usd


def break_even(
    alternative: HostedAlternative,
    start: datetime,
    end: datetime,
    rows: list[CostRow] | None = None,
) -> BreakEven:
    deployment = alternative.deployment
    key = f"{deployment.name} on {deployment.node.name}"
    rows = cost_by(start, end, "deployment") if rows is None else rows
    row = next((r for r in rows if r.key == key), None)
    hours = (end - start).total_seconds() / 3600
    scale = HOURS_PER_MONTH / hours
    cost = float(row.cost_usd) * scale if row else 0.0
    prompt = row.prompt_tokens if row else 0.0
    generated = row.generation_tokens if row else 0.0
    price_in = float(alternative.usd_per_1m_input)
    price_out = float(alternative.usd_per_1m_output)
    # With no traffic yet, price the hosted side at an even input/output mix.
    mix_in = prompt / (prompt + generated) if prompt + generated else 0.5
    per_1m = mix_in * price_in + (1 - mix_in) * price_out
    tokens = (prompt + generated) * scale
    return BreakEven(
        deployment=deployment,
        alternative=alternative,
        monthly_cost_usd=cost,
        monthly_tokens=tokens,
        hosted_usd_per_1m_tokens=per_1m,
        hosted_monthly_usd=tokens / 1e6 * per_1m,
        break_even_tokens_per_month=cost / per_1m * 1e6 if per_1m else None,
    )


def break_evens(start: datetime, end: datetime) -> list[BreakEven]:
    alternatives = HostedAlternative.objects.select_related("deployment__node")
    if not alternatives:
        return []
    rows = cost_by(start, end, "deployment")
    return [break_even(a, start, end, rows) for a in alternatives]
