"""Rule 6's decide step alone: plain inputs in, a decision (or None) out, no database."""

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from collectors.models import DeploymentSettings
from recommendations.context import Context
from recommendations.rules.scale_up import Hour, ScaleUpSlo, ServiceInputs
from telemetry.models.capacity import CapacityBasis, CapacityEstimate

END = datetime(2026, 11, 23, tzinfo=UTC)
TARGETS = DeploymentSettings(slo_ttft_ms=2000.0, slo_itl_ms=100.0)


def hour(i: int, **kw: float | None) -> Hour:
    """A quiet hour within both targets unless `kw` says otherwise."""
    fields = {"waiting": 0.0, "kv": 0.5, "ttft": 500.0, "itl": 50.0, "tps": 1000.0, "rps": 2.0}
    fields.update(kw)
    return Hour(
        bucket=END - timedelta(hours=168 - i),
        rows=(),
        reporting=1,
        waiting=fields["waiting"] or 0.0,
        kv=fields["kv"],
        ttft=fields["ttft"],
        itl=fields["itl"],
        tokens_per_s=fields["tps"] or 0.0,
        requests=1000,
        rps=fields["rps"] or 0.0,
    )


def breach(i: int, **kw: float | None) -> Hour:
    """Requests waiting, TTFT over its target and the KV cache full."""
    return hour(i, **{"waiting": 4.0, "kv": 0.95, "ttft": 3000.0, "tps": 2000.0, **kw})


def inputs(hours: list[Hour], knee: CapacityEstimate | None = None) -> ServiceInputs:
    return ServiceInputs(
        ctx=Context(end=END),
        name="chat",
        deployment_ids=(1,),
        node_names=("n1",),
        node_id=1,
        hours=tuple(hours),
        settings=TARGETS,
        targets_set=True,
        knee=knee,
        window_usd=Decimal("700"),
    )


def week(breaches: int, total: int = 168, **kw: float | None) -> list[Hour]:
    return [breach(i, **kw) for i in range(breaches)] + [hour(i) for i in range(breaches, total)]


def test_three_breach_hours_fire_and_two_do_not():
    decision = ScaleUpSlo().decide(inputs(week(3)))
    assert decision is not None and len(decision.breach) == 3
    assert ScaleUpSlo().decide(inputs(week(2))) is None


def test_fewer_than_24_hours_say_nothing():
    assert ScaleUpSlo().decide(inputs(week(3, total=24))) is not None
    assert ScaleUpSlo().decide(inputs(week(3, total=23))) is None


def test_a_cache_exactly_at_the_full_mark_counts_and_just_under_does_not():
    assert ScaleUpSlo().decide(inputs(week(3, kv=0.9))) is not None
    assert ScaleUpSlo().decide(inputs(week(3, kv=0.89))) is None


def test_latency_exactly_at_its_target_is_no_breach():
    assert ScaleUpSlo().decide(inputs(week(3, ttft=2000.0))) is None
    assert ScaleUpSlo().decide(inputs(week(3, ttft=2000.1))) is not None


def test_met_hours_size_it_and_the_cost_is_a_replica_month():
    decision = ScaleUpSlo().decide(inputs(week(3)))
    assert decision is not None
    # ceil(1 x 2000 / 1000) = 2 replicas; $700 over 7 days x 30.4375 / 7 per replica.
    assert (decision.source, decision.ceiled, decision.needed) == ("met hours", 2, 2)
    assert decision.extra == 1
    assert decision.per_replica == decision.cost == Decimal("3043.75")


def test_growth_is_capped_at_twice_the_replicas_per_step():
    decision = ScaleUpSlo().decide(inputs(week(3, tps=3500.0)))
    assert decision is not None
    assert (decision.ceiled, decision.needed) == (4, 2)


def test_with_no_hour_within_targets_one_replica_more_is_the_floor():
    hours = [breach(i) for i in range(24)]
    decision = ScaleUpSlo().decide(inputs(hours))
    assert decision is not None
    assert (decision.source, decision.needed, decision.met_hours) == ("floor", 2, 0)


def test_with_cache_to_spare_the_load_must_reach_the_live_knee():
    knee = CapacityEstimate(capacity_rps=5.0, basis=CapacityBasis.OBSERVED)
    at_knee = inputs(week(3, kv=0.5, rps=5.0), knee)
    decision = ScaleUpSlo().decide(at_knee)
    assert decision is not None and decision.source == "live estimate"
    # ceil(5 requests/s / 5) = 1, at least one more than the 1 running.
    assert decision.needed == 2
    below = replace(at_knee, hours=tuple(week(3, kv=0.5, rps=4.99)))
    assert ScaleUpSlo().decide(below) is None


def test_nothing_waiting_is_no_breach():
    assert ScaleUpSlo().decide(inputs(week(3, waiting=0.0))) is None
