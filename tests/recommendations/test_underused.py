"""Rule 2 on constructed weeks: a service of 4 replicas that fits on 2, a busy one, a
single replica, too little data, no prices, and capacity from peers instead of a sweep."""

import json
from datetime import datetime, timedelta
from decimal import Decimal

import pytest

from collectors.models import Deployment, DeploymentSettings
from costs.models import InferenceRollup
from recommendations.choices import Confidence
from recommendations.rules.base import Context
from recommendations.rules.underused import UnderusedDeployments
from tests.builders.hours import END
from tests.recommendations.replicas import (
    MODEL,
    SWEEP,
    WEEK,
    service,
    sweep,
    traffic,
)

pytestmark = pytest.mark.django_db


def spiky(bucket: datetime) -> float:
    """300 tokens/s a replica, but 750 at noon: 7 hours, fewer than 5% of 168, so the
    p95 hour is still 4 x 300 = 1,200."""
    return 750.0 if bucket.hour == 12 else 300.0


def evaluate() -> list:
    return UnderusedDeployments().evaluate(Context(end=END))


def test_four_replicas_that_fit_on_two_are_cut_to_two_for_half_their_cost():
    chat = service("chat-8b", 4)
    traffic(chat, spiky)
    sweep(chat[1], SWEEP)
    [finding] = evaluate()
    assert finding.action == (
        "Run chat-8b on 2 replicas instead of 4: its busiest hours (p95) carried 1,200"
        " tokens/s and profiling shows 900 tokens/s per replica at ITL 38 ms (target 100 ms)."
    )
    # 4 replicas x 168 h x $2.50 = $1,680; half of it, $840, x 30.4375 / 7 = $3,652.50.
    assert finding.monthly_saving_usd == Decimal("3652.50")
    assert finding.arithmetic == (
        "max(1, ceil(1,200 tokens/s x 1.3 / 900 tokens/s)) = 2 replicas;"
        " $1680.00 x (4 - 2) / 4 replicas: $840.00 over 7 days x 30.4375 / 7"
        " = $3652.50 per month"
    )
    assert finding.confidence == Confidence.HIGH
    assert finding.key == f"service:chat-8b|{MODEL}"
    assert finding.deployment_id == chat[0].pk
    assert finding.evidence["capacity"]["batch_size"] == 16
    json.dumps(finding.evidence)  # stored as JSON with the recommendation
    chart = finding.evidence["chart"]
    assert len(chart["x"]) == WEEK and max(chart["series"][0]["y"]) == 3000.0
    assert chart["lines"] == [
        {"name": "p95 hour", "y": 1200.0},
        {"name": "capacity of 2 replicas", "y": 1800.0},
    ]


def test_profiling_counts_per_gpu_times_the_gpus_of_a_replica():
    chat = service("chat-70b", 4, gpus=2)
    traffic(chat, 300.0)
    sweep(chat[0], SWEEP)
    [finding] = evaluate()
    # 1,800 tokens/s a replica: ceil(1,200 x 1.3 / 1,800) = 1.
    assert finding.title == "Run chat-70b on 1 replica instead of 4"
    assert "1,800 tokens/s per replica (900 per GPU x 2 GPUs)" in finding.action
    # 8 GPUs x 168 h x $2.50 = $3,360, three quarters of it $2,520 a week.
    assert finding.monthly_saving_usd == Decimal("10957.50")


def test_a_busy_service_keeps_its_replicas():
    chat = service("chat-8b", 3)
    traffic(chat, 800.0)  # 2,400 tokens/s: ceil(2,400 x 1.3 / 900) = 4 > 3
    sweep(chat[0], SWEEP)
    assert evaluate() == []


def test_a_single_replica_is_never_cut():
    chat = service("chat-8b", 1)
    traffic(chat, 10.0)
    sweep(chat[0], SWEEP)
    assert evaluate() == []


def test_less_than_a_day_of_traffic_says_nothing():
    chat = service("chat-8b", 4)
    traffic(chat, 10.0, hours=20)
    sweep(chat[0], SWEEP)
    assert evaluate() == []


@pytest.mark.parametrize("usd", [None, "0"])
def test_an_unpriced_service_states_no_saving(usd):
    chat = service("chat-8b", 4)
    traffic(chat, 10.0, usd=usd)
    sweep(chat[0], SWEEP)
    assert evaluate() == []


def test_without_a_sweep_or_peers_capacity_is_unknown_and_it_is_silent():
    traffic(service("chat-8b", 4), 10.0)
    assert evaluate() == []


def test_a_sweep_on_another_gpu_model_does_not_say_what_an_h100_carries():
    chat = service("chat-8b", 4)
    traffic(chat, 300.0)
    sweep(chat[0], SWEEP, gpu_model="A100 80GB")
    assert evaluate() == []


def test_only_points_of_the_served_precision_and_batch_limit_count():
    chat = service("chat-8b", 4)
    traffic(chat, 200.0)
    int8 = {"quant": "int8", "batch_size": 8, "itl_ms": 30.0, "tokens_per_s": 4000.0}
    sweep(chat[0], [*SWEEP, int8])
    DeploymentSettings.objects.create(deployment=chat[0], quant="none", max_batch=8)
    [finding] = evaluate()
    # Unquantized, at most 8 sequences: 500 tokens/s, so ceil(800 x 1.3 / 500) = 3
    # (int8's 4,000 would have said 1).
    assert finding.title == "Run chat-8b on 3 replicas instead of 4"
    assert "profiling shows 500 tokens/s per replica at ITL 25 ms" in finding.action


def test_peers_on_the_same_model_and_gpu_give_the_capacity_at_medium_confidence():
    chat = service("chat-8b", 4)
    traffic(chat, 300.0)
    batch = service("chat-8b-batch", 2)
    # 700 tokens/s a GPU within target at night; 2,000 by day, but at p95 ITL ~480 ms.
    traffic(
        batch,
        lambda b: 700.0 if b.hour < 8 else 2000.0,
        itl_s=lambda b: 0.05 if b.hour < 8 else 0.5,
    )
    # Far more on another GPU model says nothing about an H100.
    traffic(service("chat-8b-l4", 2, gpu="NVIDIA L4"), 5000.0)
    findings = {f.key: f for f in evaluate()}
    finding = findings[f"service:chat-8b|{MODEL}"]
    assert finding.title == "Run chat-8b on 3 replicas instead of 4"  # ceil(1,560 / 700)
    assert finding.action == (
        "Run chat-8b on 3 replicas instead of 4: its busiest hours (p95) carried 1,200"
        " tokens/s and chat-8b-batch, serving the same model on H100 SXM, carried 700"
        " tokens/s per GPU at p95 ITL 48 ms (target 100 ms) in its busiest such hour,"
        " 700 tokens/s per replica."
    )
    assert finding.confidence == Confidence.MEDIUM
    assert finding.monthly_saving_usd == Decimal("1826.25")  # a quarter of $1,680 a week
    assert finding.evidence["capacity_source"] == "peers"


def test_a_replica_gone_before_the_last_day_is_not_counted_again():
    chat = service("chat-8b", 4)
    traffic(chat[:2], 600.0)
    traffic(chat[2:], 0.0, hours=WEEK)
    InferenceRollup.objects.filter(
        deployment__in=chat[2:], bucket__gte=END - timedelta(days=2)
    ).delete()
    sweep(chat[0], SWEEP)
    # Two replicas run now; 1,200 tokens/s needs 2 of them.
    assert evaluate() == []


def knee(dep: Deployment, rps: float, tokens_s: float, basis: str = "observed", **kw: object):
    from economics.models import CapacityEstimate

    values: dict[str, object] = {"window_end": END - timedelta(hours=1)}
    values.update(kw)
    return CapacityEstimate.objects.create(
        deployment=dep,
        computed_at=END,
        window_start=END - timedelta(days=1),
        capacity_rps=rps,
        capacity_tokens_s=tokens_s,
        basis=basis,
        binding_metric="ttft",
        current_rps=0.5,
        peak_rps=0.8,
        **values,
    )


def test_without_a_sweep_or_peers_the_live_capacity_estimate_sizes_a_replica():
    chat = service("chat-8b", 4)
    traffic(chat, spiky)
    # Replica 1 crossed its TTFT target at 2 requests/s of 450 tokens each: 900 tokens/s.
    # Replica 0's estimate says more (the smallest measured one counts); replica 2 was
    # never loaded enough to find its knee (a lower bound, not read), replica 3's is
    # from three days ago (not read).
    knee(chat[0], 2.5, 1125.0, basis="extrapolated")
    knee(chat[1], 2.0, 900.0)
    knee(chat[2], 0.4, 180.0, basis="insufficient")
    knee(chat[3], 0.2, 90.0, window_end=END - timedelta(days=3))
    [finding] = evaluate()
    assert finding.action == (
        "Run chat-8b on 2 replicas instead of 4: its busiest hours (p95) carried 1,200"
        " tokens/s and its live traffic shows a replica (chat-8b on chat-8b-node-1) meets"
        " its targets up to 2 requests/s, 900 tokens/s (TTFT target, crossed in its traffic)."
    )
    # ceil(1,200 x 1.3 / 900) = 2: half of 4 x 168 h x $2.50 = $840 a week, $3,652.50 a month.
    assert finding.monthly_saving_usd == Decimal("3652.50")
    assert finding.arithmetic.startswith(
        "max(1, ceil(1,200 tokens/s x 1.3 / 900 tokens/s)) = 2 replicas;"
    )
    assert finding.confidence == Confidence.MEDIUM
    assert finding.evidence["capacity_source"] == "live"
    assert finding.evidence["capacity"]["deployment_id"] == chat[1].pk
    assert finding.evidence["capacity"]["basis"] == "observed"
    json.dumps(finding.evidence)


def test_a_sweep_still_comes_before_the_live_estimate():
    chat = service("chat-8b", 4)
    traffic(chat, spiky)
    sweep(chat[1], SWEEP)
    knee(chat[0], 0.5, 225.0)  # would keep all 4 replicas
    [finding] = evaluate()
    assert finding.evidence["capacity_source"] == "profiling"
    assert finding.title == "Run chat-8b on 2 replicas instead of 4"


def test_a_lower_bound_alone_says_nothing():
    chat = service("chat-8b", 4)
    traffic(chat, 10.0)
    for dep in chat:
        knee(dep, 0.05, 20.0, basis="insufficient")
    assert evaluate() == []
