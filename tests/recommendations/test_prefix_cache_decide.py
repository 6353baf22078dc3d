"""Rule 7's decide step alone: plain inputs in, a decision (or None) out, no database."""

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from collectors.models import Deployment, DeploymentSettings
from recommendations.context import Context
from recommendations.inputs.phases import PrefillPrice
from recommendations.rules.prefix_cache import PrefixCaching, PrefixInputs
from telemetry.models import InferenceRollup

END = datetime(2026, 11, 23, tzinfo=UTC)


def row(h: int, prompt: int, hit_rate: float | None) -> InferenceRollup:
    """100 requests of `prompt` prompt and 100 generated tokens; the cache asked for
    every prompt token at `hit_rate`, or never asked where None."""
    queries = 0 if hit_rate is None else 100 * prompt
    return InferenceRollup(
        bucket=END - timedelta(hours=168 - h),
        present_s=3600,
        requests_ok=100,
        prompt_tokens=100 * prompt,
        generation_tokens=100 * 100,
        prefix_cache_queries=queries,
        prefix_cache_hits=round(queries * (hit_rate or 0.0)),
    )


def inputs(
    shared: int,
    prompt: int = 1000,
    caching: bool | None = False,
    hit_rate: float | None = None,
    hours: int = 168,
    price: PrefillPrice | None = None,
) -> PrefixInputs:
    return PrefixInputs(
        ctx=Context(end=END),
        deployment=Deployment(name="rag", server_kind="vllm"),
        settings=DeploymentSettings(shared_prefix_tokens=shared, prefix_caching=caching),
        rows=tuple(row(h, prompt, hit_rate) for h in range(hours)),
        window_usd=Decimal("700"),
        replicas=1,
        price=price,
        sweep=None,
    )


def decide(i: PrefixInputs):
    return PrefixCaching().decide(i)


def test_caching_off_fires_from_256_shared_tokens_and_not_at_255():
    decision = decide(inputs(256))
    assert decision is not None and decision.off
    assert (decision.expected, decision.current) == (Decimal("0.26"), Decimal("0.00"))
    assert decide(inputs(255)) is None


def test_a_prefix_as_long_as_the_prompt_says_nothing():
    assert decide(inputs(999)) is not None
    assert decide(inputs(1000)) is None


def test_an_expected_gain_of_exactly_a_tenth_fires_and_under_it_does_not():
    assert decide(inputs(256, prompt=2560)) is not None  # 256 / 2560 = 0.10
    assert decide(inputs(256, prompt=2700)) is None  # 0.0948 is 0.09 to the cent


def test_without_cache_queries_or_a_setting_caching_is_taken_as_off():
    decision = decide(inputs(500, caching=None))
    assert decision is not None and decision.off
    assert decide(inputs(500, caching=True)) is None  # on, but nothing measured


def test_a_cache_that_is_on_fires_below_a_tenth_hit_rate_only():
    decision = decide(inputs(600, caching=True, hit_rate=0.09))
    assert decision is not None and not decision.off
    assert decision.current == Decimal("0.09")
    assert decide(inputs(600, caching=True, hit_rate=0.10)) is None


def test_a_cache_that_is_on_needs_half_the_prompt_shared():
    assert decide(inputs(500, caching=True, hit_rate=0.0)) is not None
    assert decide(inputs(490, caching=True, hit_rate=0.0)) is None


def test_the_token_mix_model_prices_it_without_a_sweep_or_phase_times():
    decision = decide(inputs(500))
    assert decision is not None and not decision.measured
    # 1000 / (1000 + 10 x 100) = 0.50 prefill share; $700 over 7 days x 30.4375 / 7
    # = $3,043.75 a month x 0.50 x (0.50 - 0) expected gain.
    assert (decision.share, decision.usd) == (Decimal("0.50"), Decimal("760.94"))


def test_measured_phase_times_price_each_hit_at_a_computed_token():
    price = PrefillPrice(prefill_usd=100.0, computed=1_000_000, hours=168, share=0.4)
    decision = decide(inputs(500, price=price))
    assert decision is not None and decision.measured
    # 0.50 x 16.8M prompt tokens x $0.0001 = $840.00 over the window, x 30.4375 / 7.
    assert decision.window_saved == Decimal("840.00")
    assert decision.usd == Decimal("3652.50")


def test_fewer_than_24_hours_or_no_cost_say_nothing():
    assert decide(inputs(500, hours=24)) is not None
    assert decide(inputs(500, hours=23)) is None
    assert decide(replace(inputs(500), window_usd=Decimal(0))) is None
