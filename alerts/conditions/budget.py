from datetime import datetime
from typing import Any

from alerts.choices import BudgetCondition
from alerts.conditions.base import Breach
from alerts.models import Rule
from costs.budgets import budget_statuses


def budget_breaches(rule: Rule, now: datetime, reads: dict[Any, Any]) -> dict[str, Breach]:
    """Budgets whose month-end forecast, or spend so far, passes `value` % of the budget."""
    share = float(rule.value or 100) / 100
    out: dict[str, Breach] = {}
    if "budgets" not in reads:
        reads["budgets"] = budget_statuses(now)
    for status in reads["budgets"]:
        limit = status.budget.monthly_usd * type(status.budget.monthly_usd)(str(share))
        name, budget = status.budget.name, status.budget.monthly_usd
        if rule.condition == BudgetCondition.FORECAST and status.forecast > limit:
            when = f", passing it on {status.exceeded_on:%b %d}" if status.exceeded_on else ""
            out[f"budget:{status.budget.pk}"] = Breach(
                float(status.forecast),
                f"budget {name}: month-end forecast ${status.forecast:,.0f}"
                f" against ${budget:,.0f}{when}",
            )
        elif rule.condition == BudgetCondition.SPENT and status.spent >= limit:
            out[f"budget:{status.budget.pk}"] = Breach(
                float(status.spent),
                f"budget {name}: ${status.spent:,.0f} spent this month,"
                f" {status.used_fraction:.0%} of ${budget:,.0f}",
                "critical" if status.spent > budget else "warning",
            )
    return out
