"""Rule 8 on constructed weeks: a service quiet every night, a busy flat one, a single
replica, too few days, no prices, a trough across midnight and one broken by one day."""

import json
from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import Decimal

import pytest

from costs.models import InferenceRollup
from recommendations.choices import Confidence
from recommendations.rules.base import Context
from recommendations.rules.troughs import DailyTroughs
from tests.builders.hours import END
from tests.recommendations.replicas import SWEEP, service, sweep, traffic

pytestmark = pytest.mark.django_db


def nightly(quiet: range, low: float = 25.0, high: float = 675.0) -> Callable[[datetime], float]:
    """Per replica: `low` tokens/s in the quiet hours of day, `high` otherwise."""
    return lambda bucket: low if bucket.hour in quiet else high


def evaluate() -> list:
    return DailyTroughs().evaluate(Context(end=END))


def test_four_replicas_quiet_every_night_scale_to_one_between_one_and_seven():
    chat = service("chat-8b", 4)
    # 4 x 675 = 2,700 tokens/s needs all 4 (ceil(2,700 x 1.3 / 900) = 4); 100 needs 1.
    traffic(chat, nightly(range(1, 7)))
    sweep(chat[0], SWEEP)
    [finding] = evaluate()
    assert finding.action == (
        "Scale chat-8b from 4 to 1 replica between 01:00 and 07:00 UTC every day: demand in"
        " those hours was at most 4% of the daily peak on all 7 days."
    )
    # 6 hours x 3 replicas, at $1,680 / 672 replica-hours = $2.50, x 30.4375 days.
    assert finding.arithmetic == (
        "3 + 3 + 3 + 3 + 3 + 3 = 18 replica-hours a day x $2.50 per replica-hour"
        " ($1680.00 / 672 replica-hours) x 30.4375 days = $1369.69 per month"
    )
    assert finding.monthly_saving_usd == Decimal("1369.69")
    assert finding.confidence == Confidence.HIGH
    assert finding.title == "Scale chat-8b down from 4 replicas 01:00-07:00 UTC daily"
    assert finding.evidence["trough_hours"] == [1, 2, 3, 4, 5, 6]
    json.dumps(finding.evidence)  # stored as JSON with the recommendation
    chart = finding.evidence["chart"]
    assert chart["kind"] == "bar" and chart["x"][:2] == ["00:00", "01:00"]
    assert chart["series"][1] == {
        "name": "capacity of the replicas needed (900 tokens/s each)",
        "y": [3600.0] + [900.0] * 6 + [3600.0] * 17,
    }
    assert finding.evidence["needed_by_hour"] == [4] + [1] * 6 + [4] * 17


def test_without_capacity_evidence_the_fleet_is_taken_as_sized_for_its_peak():
    chat = service("chat-8b", 4)
    traffic(chat, nightly(range(1, 7)))
    [finding] = evaluate()
    # 675 tokens/s a replica at the peak: 100 x 1.3 / 675 needs 1.
    assert finding.action.startswith("Scale chat-8b from 4 to 1 replica between 01:00 and 07:00")
    assert finding.confidence == Confidence.MEDIUM
    assert finding.evidence["capacity_source"] == "peak"


def test_a_trough_across_midnight_with_steps():
    chat = service("chat-8b", 4)
    # 22:00 and 03:00 carry 250 a replica: 1,000 tokens/s needs 2; the hours between, 1.
    traffic(
        chat,
        lambda b: {22: 250.0, 3: 250.0}.get(b.hour, 25.0 if b.hour in (23, 0, 1, 2) else 675.0),
    )
    sweep(chat[0], SWEEP)
    [finding] = evaluate()
    assert finding.action == (
        "Scale chat-8b down from 4 replicas between 22:00 and 04:00 UTC every day (2 from"
        " 22:00, 1 from 23:00, 2 from 03:00): demand in those hours was at most 37% of the"
        " daily peak on all 7 days."
    )
    assert finding.arithmetic.startswith("2 + 3 + 3 + 3 + 3 + 2 = 16 replica-hours a day")
    assert finding.monthly_saving_usd == Decimal("1217.50")  # 16 x $2.50 x 30.4375


def test_a_trough_must_hold_every_day():
    chat = service("chat-8b", 4)
    traffic(chat, nightly(range(1, 7)))
    # One busy 03:00 splits the night into 01:00-03:00 (too short) and 04:00-07:00.
    InferenceRollup.objects.filter(bucket=END - timedelta(days=3) + timedelta(hours=3)).update(
        prompt_tokens=450 * 3600, generation_tokens=225 * 3600
    )
    sweep(chat[0], SWEEP)
    [finding] = evaluate()
    assert finding.evidence["trough_hours"] == [4, 5, 6]


def test_a_busy_flat_service_has_no_trough():
    chat = service("chat-8b", 4)
    traffic(chat, 675.0)
    sweep(chat[0], SWEEP)
    assert evaluate() == []


def test_a_trough_under_three_hours_is_not_worth_a_schedule():
    chat = service("chat-8b", 4)
    traffic(chat, nightly(range(2, 4)))
    assert evaluate() == []


def test_a_single_replica_has_nothing_to_scale_down():
    chat = service("chat-8b", 1)
    traffic(chat, nightly(range(1, 7)))
    assert evaluate() == []


def test_five_days_of_traffic_are_too_few():
    chat = service("chat-8b", 4)
    traffic(chat, nightly(range(1, 7)), hours=5 * 24)
    assert evaluate() == []


def test_six_days_are_enough_at_medium_confidence():
    chat = service("chat-8b", 4)
    traffic(chat, nightly(range(1, 7)), hours=6 * 24)
    sweep(chat[0], SWEEP)
    [finding] = evaluate()
    assert finding.confidence == Confidence.MEDIUM
    assert finding.action.endswith("on each of the 6 days it reported.")


@pytest.mark.parametrize("usd", [None, "0"])
def test_an_unpriced_service_states_no_saving(usd):
    chat = service("chat-8b", 4)
    traffic(chat, nightly(range(1, 7)), usd=usd)
    assert evaluate() == []


def test_an_oversized_fleet_scales_down_from_what_its_busiest_hour_needs():
    chat = service("chat-8b", 4)
    # 1,200 tokens/s at the peak needs 2 of the 4 (underused_deployments' finding);
    # the nightly schedule goes from those 2 to 1, not from 4.
    traffic(chat, nightly(range(1, 7), high=300.0))
    sweep(chat[0], SWEEP)
    [finding] = evaluate()
    assert finding.action.startswith(
        "Scale chat-8b from 2 to 1 replica between 01:00 and 07:00 UTC every day"
        " (2 of its 4 replicas cover its busiest hour)"
    )
    assert finding.arithmetic.startswith("1 + 1 + 1 + 1 + 1 + 1 = 6 replica-hours a day")
