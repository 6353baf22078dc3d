"""Rule 10's decide step alone: plain inputs in, a decision (or None) out, no database."""

from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal

from collectors.models import Deployment, Node
from costs.breakeven import BreakEven
from costs.models import HostedAlternative
from recommendations.context import Context
from recommendations.rules.hosted import HostedApi, HostedInputs

CTX = Context(end=datetime(2026, 11, 23, tzinfo=UTC))
DEP = Deployment(name="chat-8b", node=Node(name="gpu-node-1"))
ALT = HostedAlternative(
    deployment=DEP, name="api", usd_per_1m_input=Decimal("1"), usd_per_1m_output=Decimal("2")
)
BE = BreakEven(DEP, ALT, 0.0, 0.0, 1.5, 0.0, None)
# 100M prompt + 50M generated tokens = $200 hosted against $420 self-hosted a week.
INPUTS = HostedInputs(
    ctx=CTX,
    be=BE,
    window_usd=Decimal("420"),
    cost_hours=168,
    traffic_hours=168,
    prompt_tokens=100_000_000,
    generation_tokens=50_000_000,
)


def test_a_cheaper_api_saves_the_difference_of_the_months():
    d = HostedApi().decide(INPUTS)
    assert d is not None
    assert d.hosted_usd == Decimal("200")
    assert (d.self_monthly, d.hosted_monthly) == (Decimal("1826.25"), Decimal("869.64"))
    assert d.saving == Decimal("956.61")
    assert d.full


def test_an_api_that_costs_as_much_as_the_gpus_is_silent():
    rule = HostedApi()
    # 420 = 100M x $1 + 160M x $2 / 1M: exactly the GPUs' cost.
    assert rule.decide(replace(INPUTS, generation_tokens=160_000_000)) is None
    assert rule.decide(replace(INPUTS, generation_tokens=159_000_000)) is not None


def test_min_hours_of_cost_and_of_traffic_are_both_needed():
    rule = HostedApi()
    assert rule.decide(replace(INPUTS, cost_hours=24, traffic_hours=24)) is not None
    assert rule.decide(replace(INPUTS, cost_hours=23)) is None
    assert rule.decide(replace(INPUTS, traffic_hours=23)) is None


def test_no_tokens_or_no_cost_says_nothing():
    rule = HostedApi()
    assert rule.decide(replace(INPUTS, prompt_tokens=0, generation_tokens=0)) is None
    assert rule.decide(replace(INPUTS, window_usd=Decimal(0))) is None


def test_full_confidence_needs_both_measured_in_nine_tenths_of_the_window():
    rule = HostedApi()
    assert rule.decide(replace(INPUTS, traffic_hours=152)).full  # type: ignore[union-attr]
    assert not rule.decide(replace(INPUTS, cost_hours=151)).full  # type: ignore[union-attr]
