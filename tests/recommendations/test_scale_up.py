"""Rule 6 on a constructed week: chat-8b queues with its KV cache 97% full and p95 TTFT
3,900 ms (target 2,000 ms) in 12 of 168 hours, at twice the tokens/s of its good hours."""

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from collectors.models import Deployment
from costs.models import InferenceRollup
from recommendations.choices import Confidence
from recommendations.rules.base import Context
from recommendations.rules.scale_up import ScaleUpSlo, p95
from tests.builders import fleet
from tests.builders.hours import END, cost_hours, hist, inference_hours

pytestmark = pytest.mark.django_db

TTFT_BOUNDS = [0.5, 1.0, 2.0, 4.0, 8.0]  # seconds
ITL_BOUNDS = [0.02, 0.05, 0.1, 0.2]


def deployment(name: str = "chat-8b", node: str = "gpu-node-1", slo: bool = True) -> Deployment:
    return fleet.deployment(
        name,
        node,
        uuids=[f"GPU-{node}-{name}"],
        gpu_model="",
        settings={"slo_ttft_ms": 2000, "slo_itl_ms": 100} if slo else None,
        server_kind="vllm",
    )


def week(
    dep: Deployment,
    breach: int = 12,
    hours: int = 7 * 24,
    kv: float = 0.97,
    busy_tps: float = 5200,
    calm_tps: float = 2600,
    ttft_bucket: int | None = 3,
    calm_ttft_bucket: int = 1,
    usd: str = "2.50",
) -> None:
    """The first `breach` hours: 8 waiting, KV `kv`, TTFT in (2, 4] s, `busy_tps`
    tokens/s, 4,000 requests; the rest: nothing waiting, KV 50%, TTFT in (0.5, 1] s,
    `calm_tps`, 1,000 requests. ITL 19 ms throughout."""

    def hour(h: int, bucket: datetime) -> dict[str, Any]:
        busy = h < breach
        tps = busy_tps if busy else calm_tps
        return {
            "requests_ok": 3900 if busy else 1000,
            "requests_error": 60 if busy else 0,
            "requests_aborted": 40 if busy else 0,
            "prompt_tokens": int(tps * 3600 * 2 / 3),
            "generation_tokens": int(tps * 3600 / 3),
            "waiting_max": 8 if busy else 0,
            "kv_cache_sum": (kv if busy else 0.5) * 360,
            "ttft_hist": None
            if ttft_bucket is None
            else hist(TTFT_BOUNDS, ttft_bucket if busy else calm_ttft_bucket),
            "itl_hist": None if ttft_bucket is None else hist(ITL_BOUNDS, 0),
        }

    inference_hours(dep, hours, each=hour, running_max=64, kv_cache_n=360)
    cost_hours(dep.gpus.get(), dep, usd, hours)


def run() -> list:
    return ScaleUpSlo().evaluate(Context(end=END))


def test_a_service_over_its_ttft_target_at_full_cache_gets_a_replica_at_its_cost():
    dep = deployment()
    week(dep)
    [finding] = run()
    # Needed = ceil(1 x 5,200 / 2,600) = 2: one more replica. 168 h x $2.50 = $420.00 a
    # week for 1 replica; x 30.4375 / 7 = $1,826.25 a replica-month; 1 x that, negated.
    assert finding.monthly_saving_usd == Decimal("-1826.25")
    # p95 TTFT = 2 s + 2 s x 0.95 = 3.9 s; 12 hours x 4,000 requests = 48,000.
    assert finding.action == (
        "Add 1 replica to chat-8b (about $1,826.25 a month): in 12 of 168 hours requests"
        " queued with the KV cache 97% full and p95 TTFT 3,900 ms against a 2,000 ms target,"
        " 48,000 requests."
    )
    assert finding.arithmetic == (
        "replicas needed = ceil(1 x 5,200 / 2,600 tokens/s, the p95 of the breach hours over"
        " the p95 of the 156 hours that met the targets) = 2; $420.00 over 7 days / 1"
        " replica(s) x 30.4375 / 7 = $1826.25 per replica-month; 1 x $1826.25 = $1826.25 a"
        " month, a cost: stated as -$1826.25"
    )
    assert finding.confidence == Confidence.HIGH
    assert finding.key == "service:chat-8b"
    assert finding.deployment_id == dep.pk and finding.node_id == dep.node_id
    assert finding.evidence["breach_hours"] == 12
    assert finding.evidence["breach_requests"] == 48_000
    chart = finding.evidence["chart"]
    assert chart["lines"] == [{"name": "TTFT target (ms)", "y": 2000.0}]
    assert chart["series"][0]["y"][0] == pytest.approx(3900.0)
    assert chart["series"][1]["y"][0] == 97.0


def test_replicas_on_two_nodes_are_one_service_sized_together():
    a, b = deployment(node="gpu-node-1"), deployment(node="gpu-node-2")
    for dep in (a, b):
        week(dep, busy_tps=3900, calm_tps=1300)
    [finding] = run()
    # Service tokens/s: 7,800 in breach hours, 2,600 in good ones; ceil(2 x 3) = 6
    # replicas, capped at twice the 2 running = 4: 2 more. $840.00 / 2 replicas =
    # $420.00 a week each = $1,826.25 a month; 2 x $1,826.25 = $3,652.50.
    assert finding.monthly_saving_usd == Decimal("-3652.50")
    assert finding.action.startswith("Add 2 replicas to chat-8b (about $3,652.50 a month):")
    assert "= 6, at most 2 x 2 per step = 4;" in finding.arithmetic
    assert finding.evidence["deployment_ids"] == [a.pk, b.pk]
    assert finding.deployment_id == a.pk


def test_when_no_hour_met_the_target_it_adds_one_replica_with_less_confidence():
    dep = deployment()
    week(dep, calm_ttft_bucket=3)  # every hour over 2,000 ms
    [finding] = run()
    assert finding.monthly_saving_usd == Decimal("-1826.25")
    assert finding.arithmetic.startswith("no hour met the targets: replicas needed = 1 + 1 = 2;")
    assert finding.confidence == Confidence.MEDIUM


def test_a_breach_of_the_itl_target_is_named_as_such():
    dep = deployment()
    week(dep)
    InferenceRollup.objects.filter(waiting_max__gt=0).update(
        ttft_hist=hist(TTFT_BOUNDS, 1), itl_hist=hist(ITL_BOUNDS, 3)
    )
    [finding] = run()
    # p95 ITL = 100 + 100 x 0.95 = 195 ms.
    assert "and p95 ITL 195 ms against a 100 ms target, 48,000 requests." in finding.action


def test_without_settings_the_default_targets_apply_with_less_confidence():
    week(deployment(slo=False))
    [finding] = run()
    assert finding.monthly_saving_usd == Decimal("-1826.25")
    assert finding.confidence == Confidence.MEDIUM
    assert "defaults" in finding.evidence["confidence_why"]


def test_a_healthy_service_gets_no_finding():
    week(deployment(), breach=0)
    assert run() == []


def test_two_breach_hours_are_not_enough():
    week(deployment(), breach=2)
    assert run() == []


def test_a_cache_under_90_percent_is_not_full():
    week(deployment(), kv=0.89)
    assert run() == []


def test_one_full_replica_beside_an_idle_one_is_not_short_of_capacity():
    week(deployment(node="gpu-node-1"))
    week(deployment(node="gpu-node-2"), breach=0)  # pooled KV (97% + 50%) / 2 < 90%
    assert run() == []


def test_missing_histograms_say_nothing():
    week(deployment(), ttft_bucket=None)
    assert run() == []


def test_too_little_data_says_nothing():
    week(deployment(), hours=23)
    assert run() == []


def test_p95_interpolates_between_ranks():
    assert p95([1.0]) == 1.0
    assert p95([float(v) for v in range(1, 21)]) == pytest.approx(19.05)


def knee(dep: Deployment, rps: float, basis: str = "observed") -> None:
    from economics.models import CapacityEstimate

    CapacityEstimate.objects.create(
        deployment=dep,
        computed_at=END,
        window_start=END - timedelta(days=1),
        window_end=END,
        capacity_rps=rps,
        capacity_tokens_s=rps * 4000,
        basis=basis,
        binding_metric="ttft",
        current_rps=0.3,
        peak_rps=1.1,
    )


def test_queueing_past_the_live_knee_with_cache_to_spare_is_a_capacity_shortage():
    a, b = deployment(node="gpu-node-1"), deployment(node="gpu-node-2")
    for dep in (a, b):
        week(dep, kv=0.7)  # never full: without a knee this says nothing
    assert run() == []
    # Each replica crossed its TTFT target at 0.8 requests/s; in the breach hours each
    # finished 4,000 requests an hour, 1.11 a second.
    knee(a, 0.9)
    knee(b, 0.8)  # the smaller one counts
    [finding] = run()
    # Needed = ceil(2 x 1.111 = 2.22 / 0.8) = ceil(2.78) = 3: one more. $840.00 a week
    # for 2 replicas = $420.00 each = $1,826.25 a replica-month.
    assert finding.monthly_saving_usd == Decimal("-1826.25")
    assert finding.action == (
        "Add 1 replica to chat-8b (about $1,826.25 a month): in 12 of 168 hours requests"
        " queued with the load past the 0.8 requests/s one replica carries within its targets"
        " (the KV cache 70% full) and p95 TTFT 3,900 ms against a 2,000 ms target, 96,000"
        " requests."
    )
    assert finding.arithmetic.startswith(
        "replicas needed = ceil(2.2 requests/s, the p95 of the breach hours, / 0.8"
        " requests/s that one replica carries within its targets by its live capacity"
        " estimate) = 3; $840.00 over 7 days / 2 replica(s)"
    )
    assert finding.confidence == Confidence.HIGH
    assert finding.evidence["capacity_source"] == "live estimate"
    assert finding.evidence["capacity_estimate"]["deployment_id"] == b.pk
    assert finding.evidence["p95_requests_per_s_breach"] == pytest.approx(2.222, abs=1e-3)


def test_hours_under_the_knee_with_cache_to_spare_are_not_breaches():
    dep = deployment()
    week(dep, kv=0.7)
    knee(dep, 2.0)  # 1.11 requests/s is within what it carries
    assert run() == []


def test_the_live_knee_sizes_a_full_cache_breach_too_at_most_doubling():
    dep = deployment()
    week(dep)
    knee(dep, 0.4, basis="extrapolated")
    [finding] = run()
    # ceil(1.11 / 0.4) = ceil(2.78) = 3, capped at 2 x 1: one more replica.
    assert finding.monthly_saving_usd == Decimal("-1826.25")
    assert "/ 0.4 requests/s that one replica carries within its targets by its live" in (
        finding.arithmetic
    )
    assert "= 3, at most 2 x 1 per step = 2;" in finding.arithmetic
    assert "queued with the KV cache 97% full" in finding.action
    # An extrapolated knee is a fit beyond the load seen.
    assert finding.confidence == Confidence.MEDIUM
    assert "extrapolated" in finding.evidence["confidence_why"]
