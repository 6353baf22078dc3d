"""Month-to-date spend, a month-end forecast with a day-of-week shape, and budget state.

The forecast adds, for each day left in the month, the average spend of that
weekday over the last four weeks (a quiet weekend stays quiet), so "will be
exceeded on DATE" names a real day. Months are UTC calendar months.
"""

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

from django.utils import timezone

from collectors.models import Deployment
from collectors.scope import deployment_labels
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

    labels: list[tuple[int, dict[str, str]]]  # (deployment id, its labels)
    reported: set[date]  # days in the forecast history on which the fleet reported

    @classmethod
    def load(cls, today: datetime) -> "Fleet":
        hours = hours_with_costs(today - FORECAST_HISTORY, today)
        rows = Deployment.objects.values_list("pk", "labels", "node__labels")
        labels = [(pk, deployment_labels(own, node)) for pk, own, node in rows]
        return cls(labels, {h.date() for h in hours})


def scope_deployments(budget: Budget, fleet: Fleet) -> list[int]:
    """The deployments a budget covers: its one deployment, or those whose labels (their
    node's overlaid with their own, as every filter reads them) hold its label."""
    if budget.deployment_id:
        return [budget.deployment_id]
    key, value = budget.label_key, budget.label_value
    return [pk for pk, labels in fleet.labels if labels.get(key) == value]


def _today(now: datetime) -> datetime:
    return now.replace(hour=0, minute=0, second=0, microsecond=0)


@dataclass(frozen=True)
class MonthSpend:
    """Spend of this UTC month so far, by day, and the forecast at the end of each day left."""

    month_start: date
    today: date
    daily: dict[date, Decimal]
    spent: Decimal
    forecast_by_day: list[tuple[date, Decimal]]  # running month total at each day's end

    @property
    def forecast(self) -> Decimal:
        return self.forecast_by_day[-1][1] if self.forecast_by_day else self.spent

    @property
    def spent_today(self) -> Decimal:
        return self.daily.get(self.today, ZERO)


def month_spend(
    deployments: list[int] | None, now: datetime, reported: set[date] | None
) -> MonthSpend:
    """The month for these deployments (None: the whole bill, idle included).

    `reported`: the days the fleet reported at all; None takes the days of the rows read.
    """
    month_start, month_end = month_bounds(now)
    today = _today(now)
    history_start = min(month_start, today - FORECAST_HISTORY)
    hourly = spend_by_hour(history_start, month_end, deployments)
    daily: dict[date, Decimal] = defaultdict(Decimal)
    for hour, usd in hourly:
        daily[hour.date()] += usd
    spent = sum((usd for hour, usd in hourly if hour >= month_start), ZERO)
    if reported is None:
        history = today - FORECAST_HISTORY
        reported = {d for d in daily if history <= datetime.combine(d, time(), UTC) < today}
    per_weekday = _weekday_means(reported, daily, spent, now - month_start)
    remaining_today = Decimal(1) - Decimal((now - today).total_seconds()) / Decimal(86400)
    forecast = spent
    steps = []
    day = today
    while day < month_end:
        part = remaining_today if day == today else Decimal(1)
        forecast += per_weekday[day.weekday()] * part
        steps.append((day.date(), forecast))
        day += DAY
    return MonthSpend(month_start.date(), today.date(), dict(daily), spent, steps)


def fleet_month_spend(now: datetime | None = None) -> MonthSpend:
    """The whole bill's month: today, month to date and the month-end forecast."""
    now = (now or timezone.now()).astimezone(UTC)
    # For the whole bill, the days it reported are the days with any cost row (an
    # unpriced hour still writes $0 rows): no second read of the history.
    return month_spend(None, now, None)


def budget_status(
    budget: Budget, now: datetime | None = None, fleet: Fleet | None = None
) -> BudgetStatus:
    now = (now or timezone.now()).astimezone(UTC)
    fleet = fleet or Fleet.load(_today(now))
    month = month_spend(scope_deployments(budget, fleet), now, fleet.reported)
    exceeded_on = None
    running = ZERO
    for day in sorted(d for d in month.daily if d >= month.month_start):
        running += month.daily[day]
        if running > budget.monthly_usd:
            exceeded_on = day
            break
    if exceeded_on is None:
        exceeded_on = next(
            (day for day, total in month.forecast_by_day if total > budget.monthly_usd), None
        )
    return BudgetStatus(budget, month.month_start, month.spent, month.forecast, exceeded_on)


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
