"""Month-to-date spend, the day-of-week forecast and the budget state, by hand.

Deployment `chat` costs $2/h on weekdays and nothing at weekends; one idle GPU
reports every hour, so weekends are known to be quiet rather than missing.
"""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from collectors.models import Deployment, Gpu, Node
from costs.budgets import budget_status
from costs.models import Budget, CostRecord
from tests.builders.hours import save_cost_records

NOW = datetime(2026, 11, 16, 12, tzinfo=UTC)  # a Monday, noon


@pytest.fixture
def chat(db: None) -> Deployment:
    node = Node.objects.create(name="node-a")
    gpu = Gpu.objects.create(node=node, uuid="a0", model_name="NVIDIA H100 80GB HBM3")
    spare = Gpu.objects.create(node=node, uuid="a1", model_name="NVIDIA H100 80GB HBM3")
    chat = Deployment.objects.create(node=node, name="chat", labels={"team": "search"})
    records = []
    hour = datetime(2026, 10, 19, tzinfo=UTC)
    while hour < NOW:
        common = {"hour": hour, "gpu_hours": 1.0, "rate_usd_per_hour": 2, "pricing": "test"}
        records.append(CostRecord(gpu=spare, usd=Decimal(2), **common))
        weekday = hour.weekday() < 5
        records.append(CostRecord(gpu=gpu, deployment=chat if weekday else None, usd=2, **common))
        hour += timedelta(hours=1)
    save_cost_records(records)
    return chat


def test_spend_so_far_and_the_forecast_follow_the_weekly_shape(chat: Deployment) -> None:
    budget = Budget.objects.create(name="chat", deployment=chat, monthly_usd=Decimal(900))
    status = budget_status(budget, NOW)
    # Two full working weeks (10 x $48) and this Monday morning (12 h x $2).
    assert status.spent == Decimal(504)
    # Rest of today $24, Tue-Fri $192, next week $240, Monday 30th $48; weekends $0.
    assert status.forecast == Decimal(1008)
    # Cumulative forecast: 528 tonight, then +48 per working day: 912 on Thursday the 26th.
    assert status.exceeded_on == date(2026, 11, 26)
    assert status.state == "will_exceed"


def test_a_budget_already_spent_says_when_it_was_passed(chat: Deployment) -> None:
    budget = Budget.objects.create(name="chat", deployment=chat, monthly_usd=Decimal(500))
    status = budget_status(budget, NOW)
    assert status.state == "exceeded"
    assert status.exceeded_on == date(2026, 11, 16)  # 480 by Friday the 13th, 504 today
    assert status.used_fraction == pytest.approx(504 / 500)


def test_a_label_budget_covers_the_deployments_with_that_label(chat: Deployment) -> None:
    budget = Budget.objects.create(
        name="search", label_key="team", label_value="search", monthly_usd=Decimal(2000)
    )
    status = budget_status(budget, NOW)
    assert status.spent == Decimal(504)
    assert status.state == "ok"
    assert status.exceeded_on is None
    other = Budget.objects.create(
        name="ads", label_key="team", label_value="ads", monthly_usd=Decimal(10)
    )
    assert budget_status(other, NOW).spent == 0


def test_with_no_history_the_forecast_extends_the_month_so_far(db: None) -> None:
    node = Node.objects.create(name="new")
    gpu = Gpu.objects.create(node=node, uuid="n0")
    dep = Deployment.objects.create(node=node, name="fresh")
    start = datetime(2026, 11, 16, tzinfo=UTC)
    save_cost_records(
        [
            CostRecord(
                hour=start + timedelta(hours=h),
                gpu=gpu,
                deployment=dep,
                usd=1,
                gpu_hours=1,
                rate_usd_per_hour=1,
                pricing="test",
            )
            for h in range(12)
        ]
    )
    budget = Budget.objects.create(name="fresh", deployment=dep, monthly_usd=Decimal(1000))
    status = budget_status(budget, NOW)
    # No whole day reported before today, so the month's rate so far ($12 over
    # 15.5 days) carries on for the 14.5 days left.
    assert status.spent == 12
    assert float(status.forecast) == pytest.approx(12 + 12 / 15.5 * 14.5)
