"""The knee estimate: by hand on exact curves, and against the simulator's known capacity."""

from datetime import UTC, datetime, timedelta

import pytest

from telemetry import headroom
from telemetry.headroom import EXTRAPOLATED, INSUFFICIENT, NO_TRAFFIC, OBSERVED, Chunk
from telemetry.models.capacity import CapacityEstimate


def p95_hist(p95: float) -> dict:
    # 95 of 100 under one bound: the interpolated p95 is that bound exactly.
    return {"bounds": [p95], "counts": [95, 5], "sum": None}


def curve(rate: float) -> float:
    """p95 = 0.5 + 0.5 * rate / (6 - rate): saturates at 6 requests/s."""
    return 0.5 + 0.5 * rate / (6 - rate)


def chunks(rates: list[float], each: int = 6, p95=curve) -> list[Chunk]:
    return [
        Chunk(round(rate * 300), 300.0, round(rate * 300) * 100, {"ttft": p95_hist(p95(rate))})
        for rate in rates
        for _ in range(each)
    ]


def test_bins_pool_chunks_of_similar_rate_and_merge_their_histograms() -> None:
    bins = headroom.make_bins(chunks([1, 2, 3, 4, 5]))
    assert [round(b.rate, 6) for b in bins] == [1, 2, 3, 4, 5]
    assert [b.p95["ttft"] for b in bins] == pytest.approx([0.6, 0.75, 1.0, 1.5, 3.0])


def test_a_target_crossed_in_the_data_is_interpolated_on_the_curve() -> None:
    knee = headroom.estimate(chunks([1, 2, 3, 4, 5]), {"ttft": 2.0})
    # 0.5 + 0.5 r / (6 - r) = 2  =>  r = 6 x 1.5 / 2 = 4.5, between the bins at 4 and 5.
    assert knee.basis == OBSERVED and knee.binding == "ttft"
    assert knee.capacity_rps == pytest.approx(4.5, rel=0.02)
    assert knee.busiest_rps == pytest.approx(5)
    assert knee.capacity_tokens_s == pytest.approx(knee.capacity_rps * 100)


def test_a_target_beyond_the_data_is_extrapolated_along_the_queueing_curve() -> None:
    knee = headroom.estimate(chunks([1, 2, 3, 4, 5]), {"ttft": 5.0})
    # 6 x 4.5 / 5 = 5.4: past the busiest rate seen (5).
    assert knee.basis == EXTRAPOLATED
    assert knee.capacity_rps == pytest.approx(5.4, rel=0.02)


def test_a_crossing_between_points_off_any_curve_is_linear() -> None:
    steps = {1: 0.5, 2: 0.5, 3: 0.5, 4: 1.0, 5: 3.0}
    knee = headroom.estimate(chunks(list(steps), p95=steps.__getitem__), {"ttft": 2.0})
    assert knee.basis == OBSERVED
    # Between (4, 1.0) and (5, 3.0): 4 + (2.0 - 1.0) / 2.0 = 4.5, unless the fitted
    # curve crosses inside that interval; either way it lies in [4, 5].
    assert 4.0 <= knee.capacity_rps <= 5.0


def test_flat_latency_says_there_was_not_enough_load() -> None:
    knee = headroom.estimate(chunks([1, 2, 3, 4, 5], p95=lambda r: 0.3), {"ttft": 2.0})
    assert knee.basis == INSUFFICIENT
    assert knee.capacity_rps == pytest.approx(5)  # at least the busiest rate seen


def test_the_tightest_metric_binds() -> None:
    data = chunks([1, 2, 3, 4, 5])
    for chunk in data:
        chunk.hists["e2e"] = p95_hist(10 * curve(chunk.rate))
    knee = headroom.estimate(data, {"ttft": 2.0, "e2e": 10.0})
    # e2e: 10 x curve = 10 at curve = 1.0: r = 3.
    assert knee.binding == "e2e"
    assert knee.capacity_rps == pytest.approx(3.0, rel=0.02)


def test_latency_noise_that_falls_with_load_is_smoothed_first() -> None:
    assert headroom.isotonic([1.0, 3.0, 2.0, 4.0], [1, 1, 1, 1]) == [1.0, 2.5, 2.5, 4.0]


def test_no_traffic_has_no_knee() -> None:
    knee = headroom.estimate([Chunk(0, 300.0, 0, {})] * 20, {"ttft": 2.0})
    assert knee.basis == NO_TRAFFIC and knee.capacity_rps is None


def test_headroom_and_replicas_follow_from_the_capacity() -> None:
    estimate = CapacityEstimate(capacity_rps=4.5, basis=OBSERVED, current_rps=9.0, peak_rps=10.0)
    assert estimate.headroom == pytest.approx(-1.0)
    assert estimate.replicas_needed == 2
    assert estimate.replicas_needed_peak == 3
    light = CapacityEstimate(capacity_rps=4.5, basis=OBSERVED, current_rps=1.5, peak_rps=4.5)
    assert light.headroom == pytest.approx(2 / 3)
    assert (light.replicas_needed, light.replicas_needed_peak) == (1, 1)


@pytest.mark.django_db
def test_the_job_finds_the_simulated_servers_capacity(settings) -> None:
    """A day of the simulated fleet through ingest, rollups and the hourly job."""
    import msgspec

    from collectors.agent import simulated
    from collectors.ingest import ingest_batch
    from collectors.models import Deployment
    from collectors.services import agent_create
    from costs.pipeline import rollup_pending
    from telemetry.capacity import capacity_estimates_update

    agent = agent_create("sim")[0]
    day = datetime(2026, 11, 2, tzinfo=UTC).timestamp()
    for hour in range(24):
        body = simulated.batch_body(day + hour * 3600, day + (hour + 1) * 3600, 60.0)
        ingest_batch(
            agent,
            msgspec.json.encode(body),
            now=datetime.fromtimestamp(day, UTC) + timedelta(days=2),
        )
    end = datetime.fromtimestamp(day, UTC) + timedelta(days=1)
    rollup_pending(now=end + timedelta(minutes=5))
    assert capacity_estimates_update(now=end) == 5
    estimates = {
        e.deployment.name: e for e in CapacityEstimate.objects.select_related("deployment")
    }
    assert estimates["summarize-7b"].basis == NO_TRAFFIC
    for name in ("chat-llama-8b", "code-qwen-32b"):
        dep = next(d for d in simulated.DEPLOYMENTS if d.name == name)
        true = simulated.capacity_at_slo(dep)
        assert estimates[name].capacity_rps == pytest.approx(true, rel=0.15), name
    # code-qwen's peak is past its capacity: the SLO was crossed, and it needs two replicas.
    qwen = estimates["code-qwen-32b"]
    assert qwen.basis == OBSERVED and qwen.binding_metric == "ttft"
    assert qwen.replicas_needed_peak == 2
    assert Deployment.objects.get(name="code-qwen-32b").capacity_estimate == qwen


def test_a_target_missed_at_the_lightest_load_is_unattainable() -> None:
    knee = headroom.estimate(chunks([1, 2, 3, 4, 5]), {"ttft": 0.55})  # 0.6 s at 1 req/s
    assert knee.basis == headroom.UNATTAINABLE and knee.binding == "ttft"
    assert knee.capacity_rps is None
    estimate = CapacityEstimate(capacity_rps=None, basis=knee.basis, current_rps=3.0)
    assert estimate.headroom is None and estimate.replicas_needed is None


def test_three_bins_are_needed_before_a_knee_is_read() -> None:
    # 15 chunks make two bins: too few for a curve, so only a lower bound.
    assert headroom.estimate(chunks([1, 2, 3], each=5), {"ttft": 0.9}).basis == INSUFFICIENT
    # 18 chunks make three: the crossing between 2 (0.75 s) and 3 (1.0 s) is read.
    knee = headroom.estimate(chunks([1, 2, 3], each=6), {"ttft": 0.9})
    assert knee.basis == OBSERVED and 2 <= knee.capacity_rps <= 3


@pytest.mark.django_db
def test_current_load_is_the_last_60_minutes_and_peak_the_busiest_60() -> None:
    from collectors.models import Deployment, Node
    from telemetry.capacity import capacity_estimates_update
    from telemetry.choices import Resolution
    from telemetry.models import InferenceRollup

    node = Node.objects.create(name="n")
    dep = Deployment.objects.create(node=node, name="d")
    quiet = Deployment.objects.create(node=node, name="quiet")
    CapacityEstimate.objects.create(
        deployment=quiet,
        computed_at=datetime(2026, 11, 1, tzinfo=UTC),
        window_start=datetime(2026, 10, 31, tzinfo=UTC),
        window_end=datetime(2026, 11, 1, tzinfo=UTC),
        capacity_rps=5.0,
        basis=OBSERVED,
        current_rps=4.0,
    )
    end = datetime(2026, 11, 3, 10, 2, tzinfo=UTC)
    # 10 req/s from 08:30 to 09:59 except 20 req/s from 09:00 to 09:29; the last
    # two minutes are not rolled up yet.
    rows = []
    for minute in range(90):
        at = datetime(2026, 11, 3, 8, 30, tzinfo=UTC) + timedelta(minutes=minute)
        rate = 20 if 30 <= minute < 60 else 10
        rows.append(
            InferenceRollup(
                deployment=dep,
                resolution=Resolution.MINUTE,
                bucket=at,
                samples=6,
                present_s=60.0,
                requests_ok=rate * 60,
            )
        )
    InferenceRollup.objects.bulk_create(rows)
    assert capacity_estimates_update(now=end) == 1
    estimate = CapacityEstimate.objects.get(deployment=dep)
    # 09:02 to 09:59: 28 minutes at 20 and 30 at 10 over 58 minutes reported.
    assert estimate.current_rps == pytest.approx((28 * 20 + 30 * 10) / 58)
    # The busiest 60 minutes, 08:30-09:29 or 09:00-09:59: 30 at 20 and 30 at 10.
    assert estimate.peak_rps == pytest.approx(15.0)
    # A deployment that stopped reporting no longer shows its old knee.
    stale = CapacityEstimate.objects.get(deployment=quiet)
    assert stale.basis == NO_TRAFFIC and stale.capacity_rps is None and stale.current_rps == 0
