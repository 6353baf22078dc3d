"""Rule 3's decide step alone: plain inputs in, a decision (or None) out, no database."""

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from collectors.models import Deployment, DeploymentSettings
from profiling.models import ProfilingJob, ProfilingResult
from recommendations.context import Context
from recommendations.rules.batching import BatchingHeadroom, DeploymentInputs, Gain
from telemetry.models import InferenceRollup

END = datetime(2026, 11, 23, tzinfo=UTC)
SERVED = {"dtype": "bf16", "quant": "none", "attention": "flash", "compiled": False}
SETTINGS = DeploymentSettings(**SERVED, max_batch=32)
# 1,000 inter-token gaps in the first bucket: p95 = 0.95 x 20 ms = 19 ms.
ITL = {"bounds": [0.02, 0.04, 0.1, 0.2], "counts": [1000, 0, 0, 0, 0], "sum": 15.0}


def row(h: int, capped: bool, kv: float = 0.35) -> InferenceRollup:
    return InferenceRollup(
        bucket=END - timedelta(hours=168 - h),
        present_s=3600,
        requests_ok=1000,
        prompt_tokens=500_000,
        generation_tokens=250_000,
        running_max=32 if capped else 20,
        waiting_max=5 if capped else 0,
        kv_cache_sum=(kv if capped else 0.3) * 360,
        kv_cache_n=360,
        itl_hist=ITL,
    )


def inputs(capped: int, hours: int = 168, kv: float = 0.35, sweep=None) -> DeploymentInputs:
    return DeploymentInputs(
        ctx=Context(end=END),
        deployment=Deployment(name="chat-8b", server_kind="vllm"),
        settings=SETTINGS,
        rows=tuple(row(h, h < capped, kv) for h in range(hours)),
        replicated=False,
        window_usd=Decimal("420"),
        sweep=sweep,
    )


def point(i: int, batch: int, tps: float, itl_ms: float = 40.0) -> ProfilingResult:
    return ProfilingResult(
        index=i,
        batch_size=batch,
        prompt_len=512,
        gen_len=256,
        dtype="bf16",
        quant="none",
        attention="flash",
        compiled=False,
        status="ok",
        tokens_per_s=tps,
        decode_tokens_per_s=tps / 2,
        itl_ms=itl_ms,
        ttft_ms=500.0,
    )


def sweep(*points: ProfilingResult) -> tuple[ProfilingJob, list[ProfilingResult]]:
    return ProfilingJob(pk=7), list(points)


def test_capped_hours_at_a_tenth_of_the_window_fire_and_just_under_do_not():
    # 0.1 x 168 = 16.8 hours: 17 capped hours are enough, 16 are not.
    assert BatchingHeadroom().decide(inputs(17)) is not None
    assert BatchingHeadroom().decide(inputs(16)) is None


def test_a_kv_cache_at_the_limit_is_not_mostly_empty():
    assert BatchingHeadroom().decide(inputs(40, kv=0.59)) is not None
    assert BatchingHeadroom().decide(inputs(40, kv=0.6)) is None


def test_fewer_than_24_hours_or_no_batch_limit_say_nothing():
    assert BatchingHeadroom().decide(inputs(24, hours=24)) is not None
    assert BatchingHeadroom().decide(inputs(23, hours=23)) is None
    no_limit = replace(inputs(40), settings=DeploymentSettings(**SERVED, max_batch=None))
    assert BatchingHeadroom().decide(no_limit) is None


def test_itl_at_half_its_target_is_not_well_under_it():
    decision = BatchingHeadroom().decide(inputs(40))
    assert decision is not None
    at_half = DeploymentSettings(**SERVED, max_batch=32, slo_itl_ms=decision.itl / 0.5)
    assert BatchingHeadroom().decide(replace(inputs(40), settings=at_half)) is None
    above = DeploymentSettings(**SERVED, max_batch=32, slo_itl_ms=decision.itl / 0.5 + 0.1)
    assert BatchingHeadroom().decide(replace(inputs(40), settings=above)) is not None


def test_without_a_sweep_it_doubles_the_limit_within_the_cache_and_states_no_saving():
    decision = BatchingHeadroom().decide(inputs(40))
    assert decision is not None
    # floor(32 x 0.9 / 0.35) = 82, so min(64, 82) = 64.
    assert (decision.kv_bound, decision.new, decision.gain) == (82, 64, None)
    assert decision.saving == Decimal("0.00")


def test_a_sweep_sets_the_limit_and_the_saving():
    found = sweep(point(0, 32, 1000.0), point(1, 64, 1800.0))
    decision = BatchingHeadroom().decide(inputs(40, sweep=found))
    assert decision is not None and isinstance(decision.gain, Gain)
    assert (decision.new, decision.gain.ratio) == (64, Decimal("1.80"))
    # $420 over 7 days x 30.4375 / 7 = $1,826.25 a month, x (1 - 1/1.8).
    assert decision.saving == Decimal("811.67")


def test_a_sweep_whose_larger_batches_miss_the_itl_target_keeps_it_silent():
    found = sweep(point(0, 32, 1000.0), point(1, 64, 1800.0, itl_ms=100.1))
    assert BatchingHeadroom().decide(inputs(40, sweep=found)) is None
    at_target = sweep(point(0, 32, 1000.0), point(1, 64, 1800.0, itl_ms=100.0))
    assert BatchingHeadroom().decide(inputs(40, sweep=at_target)) is not None


def test_a_batch_the_cache_cannot_hold_is_not_proposed():
    # The bound is 82: a point at 96 does not count, the one at 64 does.
    found = sweep(point(0, 32, 1000.0), point(1, 64, 1500.0), point(2, 96, 2500.0))
    decision = BatchingHeadroom().decide(inputs(40, sweep=found))
    assert decision is not None and decision.new == 64
