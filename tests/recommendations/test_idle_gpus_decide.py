"""Rule 1's decide step alone: plain inputs in, a decision (or None) out, no database."""

from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal

from recommendations.context import Context
from recommendations.rules.idle_gpus import GpuInputs, IdleGpus

CTX = Context(end=datetime(2026, 11, 23, tzinfo=UTC))
IDLE = GpuInputs(
    ctx=CTX,
    gpu_id=1,
    uuid="GPU-1",
    name="gpu-node-1 #0 H100",
    node_id=1,
    node_name="gpu-node-1",
    held_by=(),
    idle_hours=168,
    hours=168,
    usd=Decimal("420.00"),
    idle_held_usd=Decimal(0),
    idle_held_hours=0.0,
    truly_idle_usd=Decimal("420.00"),
)


def test_a_gpu_idle_all_week_saves_its_cost_as_a_month_with_high_confidence():
    decision = IdleGpus().decide(IDLE)
    assert decision is not None
    assert decision.monthly_usd == Decimal("1826.25")  # 420 x 30.4375 / 7
    assert decision.full


def test_idle_in_exactly_the_idle_share_of_hours_fires_and_one_hour_less_does_not():
    rule = IdleGpus()
    assert rule.decide(replace(IDLE, idle_hours=int(0.8 * 100), hours=100)) is not None
    assert rule.decide(replace(IDLE, idle_hours=79, hours=100)) is None


def test_exactly_min_hours_of_data_is_judged_and_fewer_say_nothing():
    rule = IdleGpus()
    decision = rule.decide(replace(IDLE, idle_hours=24, hours=24))
    assert decision is not None and not decision.full  # 24 of 168 hours: MEDIUM
    assert rule.decide(replace(IDLE, idle_hours=23, hours=23)) is None


def test_full_confidence_needs_nine_tenths_of_the_window():
    rule = IdleGpus()
    edge = replace(IDLE, idle_hours=152, hours=152)  # 0.9 x 168 = 151.2
    assert rule.decide(edge).full  # type: ignore[union-attr]
    assert not rule.decide(replace(IDLE, idle_hours=151, hours=151)).full  # type: ignore[union-attr]


def test_an_unpriced_idle_gpu_states_no_saving():
    assert IdleGpus().decide(replace(IDLE, usd=Decimal(0))) is None


def test_the_explained_action_names_the_server_holding_the_gpu_and_its_idle_held_dollars():
    held = replace(
        IDLE, held_by=("chat-8b",), idle_held_usd=Decimal("400"), truly_idle_usd=Decimal("20")
    )
    rule = IdleGpus()
    finding = rule.explain(held, rule.decide(held))  # type: ignore[arg-type]
    assert finding.title == "Release idle GPU gpu-node-1 #0 H100 held by chat-8b"
    assert "charged to chat-8b while it ran no request" in finding.action
    assert finding.evidence["active_usd"] == "0.00"
