"""Rule 8's decide step alone: plain inputs in, a decision (or None) out, no database."""

from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal

from collectors.models import Deployment, Node
from recommendations.context import Context
from recommendations.inputs.capacity import Capacity
from recommendations.inputs.replicas import Service
from recommendations.rules.troughs import DailyTroughs, TroughInputs

CTX = Context(end=datetime(2026, 11, 23, tzinfo=UTC))
NODE = Node(name="gpu-node-1")
REPLICAS = [Deployment(pk=i, name="chat-8b", node=NODE) for i in (1, 2, 3, 4)]
SERVICE = Service("chat-8b", "llama", {d.pk: d for d in REPLICAS}, REPLICAS, [], {})
CAP = Capacity(1000.0, "profiling", "profiling shows 1,000 tokens/s", {})


def demand(quiet: range, low: float = 100.0, high: float = 3000.0) -> dict[int, float]:
    """3,000 tokens/s (4 replicas with 30% headroom) but `low` in the quiet hours."""
    return {h: low if h in quiet else high for h in range(24)}


INPUTS = TroughInputs(
    ctx=CTX,
    service=SERVICE,
    cap=CAP,
    by_hour=demand(range(0, 6)),
    days=7,
    window_usd=Decimal("672"),  # 4 replicas x 168 hours x $1
    replica_hours=672,
)


def test_a_nightly_trough_scales_down_to_what_it_needs():
    d = DailyTroughs().decide(INPUTS)
    assert d is not None
    assert (d.base, d.trough) == (4, [0, 1, 2, 3, 4, 5])
    assert d.saved == [3] * 6  # 100 tokens/s needs one replica
    assert d.per_hour == Decimal(1)
    assert d.monthly_usd == Decimal("547.88")  # 18 replica-hours a day x $1 x 30.4375


def test_a_trough_of_min_hours_fires_and_a_shorter_one_does_not():
    rule = DailyTroughs()
    assert rule.decide(replace(INPUTS, by_hour=demand(range(0, 3)))) is not None
    assert rule.decide(replace(INPUTS, by_hour=demand(range(0, 2)))) is None


def test_min_days_of_reports_are_needed():
    rule = DailyTroughs()
    assert rule.decide(replace(INPUTS, days=6)) is not None
    assert rule.decide(replace(INPUTS, days=5)) is None


def test_an_hour_of_day_never_seen_keeps_every_replica():
    by_hour = {h: v for h, v in demand(range(0, 6)).items() if h != 2}
    d = DailyTroughs().decide(replace(INPUTS, by_hour=by_hour))
    assert d is not None and d.trough == [3, 4, 5]


def test_a_single_replica_an_unpriced_service_or_no_demand_says_nothing():
    rule = DailyTroughs()
    one = Service("chat-8b", "llama", {1: REPLICAS[0]}, REPLICAS[:1], [], {})
    assert rule.decide(replace(INPUTS, service=one)) is None
    assert rule.decide(replace(INPUTS, window_usd=Decimal(0))) is None
    assert rule.decide(replace(INPUTS, by_hour={h: 0.0 for h in range(24)})) is None


def test_without_a_capacity_the_peak_hour_sizes_a_replica():
    d = DailyTroughs().decide(replace(INPUTS, cap=None))
    assert d is not None
    assert d.per_replica == 750.0  # the 3,000 tokens/s peak over 4 replicas
    assert d.base == 4  # ceil(3,000 x 1.3 / 750) = 6, capped at the 4 running
