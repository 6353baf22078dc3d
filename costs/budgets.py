"""Month-to-date spend, a month-end forecast with a day-of-week shape, and budget state.

The forecast adds, for each day left in the month, the average spend of that
weekday over the last four weeks (a quiet weekend stays quiet), so "will be
exceeded on DATE" names a real day. Months are UTC calendar months.
"""

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.utils import timezone

from collectors.models import Deployment
from costs.constants import FORECAST_HISTORY
from costs.models import Budget
from costs.selectors import hours_with_costs, spend_by_hour

ZERO = Decimal(0)
DAY = timedelta(days=1)


@dataclass(frozen=True)
class BudgetStatus:
    budget: Budget
    month_start: date
    spent: Decimal
    forecast: Decimal
    exceeded_on: date | None  # the day spend passed (or is forecast to pass) the budget

    @property
    def state(self) -> str:
        if self.spent > self.budget.monthly_usd:
            return "exceeded"
        if self.exceeded_on is not None:
            return "will_exceed"
        return "ok"

    @property
    def used_fraction(self) -> float:
        return float(self.spent / self.budget.monthly_usd)


def month_bounds(now: datetime) -> tuple[datetime, datetime]:
    start = now.astimezone(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    end = (start + timedelta(days=32)).replace(day=1)
    return start, end


@dataclass(frozen=True)
class Fleet:
    """What every budget's status reads alike: read once for a list of budgets."""

    labels: list[tuple[int, Any]]  # (deployment id, its labels)
    reported: set[date]  # days in the forecast history on which the fleet reported

    @classmethod
    def load(cls, today: datetime) -> "Fleet":
        hours = hours_with_costs(today - FORECAST_HISTORY, today)
        return cls(list(Deployment.objects.values_list("pk", "labels")), {h.date() for h in hours})


def scope_deployments(budget: Budget, fleet: Fleet) -> list[int]:
    if budget.deployment_id:
        return [budget.deployment_id]
    return [
        pk
        for pk, labels in fleet.labels
        if isinstance(labels, dict)
        and budget.label_key in labels
        and str(labels[budget.label_key]) == budget.label_value
    ]


def _today(now: datetime) -> datetime:
    return now.replace(hour=0, minute=0, second=0, microsecond=0)


def budget_status(
    budget: Budget, now: datetime | None = None, fleet: Fleet | None = None
) -> BudgetStatus:
    now = (now or timezone.now()).astimezone(UTC)
    month_start, month_end = month_bounds(now)
    today = _today(now)
    fleet = fleet or Fleet.load(today)
    deployments = scope_deployments(budget, fleet)
    history_start = min(month_start, today - FORECAST_HISTORY)
    hourly = spend_by_hour(history_start, month_end, deployments)
    daily: dict[date, Decimal] = defaultdict(Decimal)
    for hour, usd in hourly:
        daily[hour.date()] += usd

    spent = sum((usd for hour, usd in hourly if hour >= month_start), ZERO)
    exceeded_on = None
    running = ZERO
    for day in sorted(d for d in daily if d >= month_start.date()):
        running += daily[day]
        if running > budget.monthly_usd:
            exceeded_on = day
            break

    per_weekday = _weekday_means(fleet.reported, daily, spent, now - month_start)
    remaining_today = Decimal(1) - Decimal((now - today).total_seconds()) / Decimal(86400)
    forecast = spent
    day = today
    while day < month_end:
        part = remaining_today if day == today else Decimal(1)
        forecast += per_weekday[day.weekday()] * part
        if exceeded_on is None and forecast > budget.monthly_usd:
            exceeded_on = day.date()
        day += DAY
    return BudgetStatus(budget, month_start.date(), spent, forecast, exceeded_on)


def _weekday_means(
    reported: set[date], daily: dict[date, Decimal], spent: Decimal, elapsed: timedelta
) -> dict[int, Decimal]:
    """Mean spend per weekday over the days the fleet reported at all.

    A day with no report (before the install, an outage) says nothing about the
    shape and is left out; a weekday with no history takes the overall mean.
    """
    by_weekday: dict[int, list[Decimal]] = defaultdict(list)
    for day in sorted(reported):
        by_weekday[day.weekday()].append(daily.get(day, ZERO))
    every = [usd for values in by_weekday.values() for usd in values]
    if every:
        fallback = sum(every, ZERO) / len(every)
    else:
        days = Decimal(elapsed.total_seconds()) / Decimal(86400)
        fallback = spent / days if days > 0 else ZERO
    return {
        weekday: (sum(values, ZERO) / len(values)) if values else fallback
        for weekday in range(7)
        for values in [by_weekday.get(weekday, [])]
    }


def budget_statuses(now: datetime | None = None) -> list[BudgetStatus]:
    now = (now or timezone.now()).astimezone(UTC)
    budgets = list(Budget.objects.select_related("deployment__node"))
    fleet = Fleet.load(_today(now)) if budgets else None
    return [budget_status(b, now, fleet) for b in budgets]
