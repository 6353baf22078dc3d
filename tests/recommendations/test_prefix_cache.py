"""Rule 7 on a constructed week: chat-8b's 2,300-token prompts share an 1,800-token
prefix (78%) with its cache off, or on but rarely hitting."""

import json
from decimal import Decimal
from typing import Any

import pytest

from collectors.models import Deployment
from recommendations.choices import Confidence
from recommendations.rules.base import Context
from recommendations.rules.prefix_cache import PrefixCaching
from tests.recommendations.profiled_fleet import END, costs, deployment, sweep, traffic

pytestmark = pytest.mark.django_db

# Per hour: 1,000 requests of 2,300 prompt and 200 generated tokens.
REQUESTS, PROMPT, GEN = 1000, 2300, 200
QUERIES = REQUESTS * PROMPT  # prompt tokens looked up in the cache


def chat(
    hours: int = 7 * 24,
    queries: int = 0,
    hits: int = 0,
    name: str = "chat-8b",
    prompt: int = PROMPT,
    **settings: Any,
) -> Deployment:
    values = {"shared_prefix_tokens": 1800, "prefix_caching": False}
    dep = deployment(name=name, **{**values, **settings})
    costs(dep, hours=hours)
    traffic(dep, hours, REQUESTS, prompt, GEN, queries=queries, hits=hits)
    return dep


def findings() -> list:
    return PrefixCaching().evaluate(Context(end=END))


def test_caching_off_with_a_long_shared_prefix_is_enabled():
    chat()
    [f] = findings()
    # Expected hits 1,800 / 2,300 = 0.78 of prompt tokens; no sweep, so prefill's share
    # is 2,300 / (2,300 + 10 x 200) = 0.53. $840 a week x 30.4375 / 7 = $3,652.50 a month
    # x 0.53 x (0.78 - 0) = $1,509.94.
    assert f.monthly_saving_usd == Decimal("1509.94")
    assert f.arithmetic == (
        "$840.00 over 7 days x 30.4375 / 7 x 0.53 prefill share"
        " x (0.78 expected - 0.00 current hit rate) = $1509.94 per month"
    )
    assert f.action == (
        "Enable prefix caching on chat-8b (vLLM --enable-prefix-caching): its prompts average"
        " 2,300 tokens, of which a 1,800-token prefix is shared, and prefill is about 53% of"
        " its GPU time."
    )
    assert f.confidence == Confidence.LOW  # the prefill share is modelled
    assert f.evidence["prefill_share_from"] == "token mix model"
    json.dumps(f.evidence)  # stored with the finding
    assert f.evidence["chart"]["series"][0]["y"][0] == pytest.approx(REQUESTS * PROMPT / 3600)


def test_a_sweep_measures_the_prefill_share_at_the_served_shape():
    dep = chat()
    sweep(
        dep,
        [
            (2048, 256, 16, "bf16", "none", "flash", False, 2000, 40, 2048),
            (2048, 256, 1, "bf16", "none", "flash", False, 300, 15, 150),
            (128, 128, 16, "bf16", "none", "flash", False, 2000, 30, 50),
        ],
    )
    [f] = findings()
    # Nearest point: (2048, 256) at batch 16 (16 requests in flight). Prefill of a
    # 2,300-token prompt at 2,048 ms per 2,048 tokens = 2,300 ms; 199 decode steps x 40 ms
    # = 7,960 ms; share 2,300 / 10,260 = 0.22. $3,652.50 x 0.22 x 0.78 = $626.77.
    assert f.monthly_saving_usd == Decimal("626.77")
    assert f.evidence["prefill_share_from"] == "profiling sweep"
    assert f.confidence == Confidence.MEDIUM
    assert "prefill is about 22% of its GPU time" in f.action


def test_caching_taken_as_off_from_zero_cache_queries_is_low_confidence():
    chat(prefix_caching=None, name="chat-sglang")
    Deployment.objects.update(server_kind="sglang")
    [f] = findings()
    assert f.monthly_saving_usd == Decimal("1509.94")
    assert f.action.startswith(
        "Enable prefix caching on chat-sglang (SGLang RadixAttention: drop --disable-radix-cache)"
    )
    assert "no cache queries" in f.evidence["confidence_reason"]


def test_a_low_hit_rate_across_replicas_is_routed_by_prefix():
    chat(prefix_caching=True, queries=QUERIES, hits=QUERIES // 20)  # 5% hits
    deployment(node="gpu-node-2")  # a second chat-8b: a replica
    [f] = findings()
    # $3,652.50 x 0.53 x (0.78 - 0.05) = $1,413.15.
    assert f.monthly_saving_usd == Decimal("1413.15")
    assert f.action == (
        "Route chat-8b's requests to its 2 replicas by prompt prefix (session affinity): its"
        " prefix cache hit 5% of prompt tokens where 78% should hit; its prompts average"
        " 2,300 tokens, of which a 1,800-token prefix is shared, and prefill is about 53% of"
        " its GPU time."
    )
    assert f.title == "Route chat-8b by prompt prefix"
    chart = f.evidence["chart"]
    assert chart["series"][0]["y"][0] == pytest.approx(5.0)
    assert chart["lines"] == [
        {"name": "expected from the shared prefix", "y": 78.0},
        {"name": "low", "y": 10.0},
    ]


def test_a_low_hit_rate_on_a_single_server_asks_for_a_larger_cache():
    chat(prefix_caching=None, queries=QUERIES, hits=QUERIES // 20)
    [f] = findings()
    assert f.monthly_saving_usd == Decimal("1413.15")
    assert f.action.startswith("Give chat-8b more GPU memory for its KV cache")


def test_a_cache_that_hits_well_is_silent():
    chat(prefix_caching=True, queries=QUERIES, hits=QUERIES * 7 // 10)
    assert findings() == []


def test_a_hit_rate_of_exactly_ten_percent_is_not_low():
    chat(prefix_caching=True, queries=QUERIES, hits=QUERIES // 10)
    assert findings() == []


def test_caching_on_without_cache_metrics_says_nothing():
    chat(prefix_caching=True)
    assert findings() == []


def test_short_or_unknown_prefixes_say_nothing():
    chat(name="short", shared_prefix_tokens=200)
    chat(name="whole-prompt", shared_prefix_tokens=2300)  # nothing but the prefix
    chat(name="unknown", shared_prefix_tokens=None)
    # 1,100 / 2,300 = 0.48 of the prompt: under half, a low hit rate is no surprise.
    chat(name="half", prefix_caching=True, queries=QUERIES, shared_prefix_tokens=1100)
    assert findings() == []


def test_an_expected_gain_under_ten_points_is_silent_and_ten_points_fires():
    chat(name="small-gain", prompt=3000, shared_prefix_tokens=256)  # 256 / 3,000 = 0.09
    assert findings() == []
    chat(name="edge", prompt=3000, shared_prefix_tokens=300)  # 300 / 3,000 = 0.10
    [f] = findings()
    # Prefill share 3,000 / (3,000 + 10 x 200) = 0.60: $3,652.50 x 0.60 x 0.10 = $219.15.
    assert f.monthly_saving_usd == Decimal("219.15")
    assert f.title == "Enable prefix caching on edge"


def test_too_little_data_another_server_or_no_cost_say_nothing():
    chat(name="new", hours=20)
    triton = chat(name="triton")
    Deployment.objects.filter(pk=triton.pk).update(server_kind="triton")
    unpriced = deployment(name="unpriced", shared_prefix_tokens=1800, prefix_caching=False)
    traffic(unpriced, requests=REQUESTS, prompt=PROMPT, gen=GEN)
    assert findings() == []


def measured(dep: Deployment, hits: int = 0, hours: int = 7 * 24) -> None:
    """A week of $5.00 hours, costed as attribution stores them, and traffic whose phases
    vLLM timed: 1,800 request-seconds of prefill and 5,400 of decode in 3,600 busy
    seconds an hour (an average batch of 2), so prefill is 1,800 / (1,800 + 5,400 / 2)
    = 0.4 of the GPU time: $2.00 an hour."""
    from datetime import timedelta

    from costs.models import CostRecord
    from telemetry.choices import Resolution
    from telemetry.models import InferenceRollup
    from tests.builders.hours import save_cost_records

    gpu = dep.gpus.get()
    buckets = [END - timedelta(hours=h + 1) for h in range(hours)]
    save_cost_records(
        [
            CostRecord(
                hour=hour,
                gpu=gpu,
                deployment=dep,
                usd=Decimal("5.00"),
                gpu_hours=1.0,
                rate_usd_per_hour=Decimal("5.00"),
                pricing="test",
            )
            for hour in buckets
        ]
    )
    InferenceRollup.objects.bulk_create(
        InferenceRollup(
            deployment=dep,
            resolution=Resolution.HOUR,
            bucket=hour,
            samples=360,
            present_s=3600.0,
            active_s=3600.0,
            prefill_s=1800.0,
            decode_s=5400.0,
            requests_ok=REQUESTS,
            prompt_tokens=QUERIES,
            generation_tokens=REQUESTS * GEN,
            prefix_cache_queries=QUERIES if hits else 0,
            prefix_cache_hits=hits,
        )
        for hour in buckets
    )


def test_measured_phase_times_price_each_hit_at_the_prefill_cost_of_a_computed_token():
    dep = deployment(shared_prefix_tokens=1800, prefix_caching=False)
    measured(dep)
    [f] = findings()
    # $2.00 of prefill an hour over 2,300,000 computed prompt tokens: $0.8696 per 1M.
    # 0.78 x 386,400,000 prompt tokens in the week x $2.00 / 2,300,000 = $262.08
    # x 30.4375 / 7 = $1,139.58: with no hits yet, what 0.4 of the cost x 0.78 gives.
    assert f.monthly_saving_usd == Decimal("1139.58")
    assert f.arithmetic == (
        "$336.00 of prefill / 386,400,000 prompt tokens computed in 168 served hours"
        " = $0.8696 per 1M; (0.78 expected - 0.00 current hit rate) x 386,400,000 prompt"
        " tokens x $0.8696 per 1M = $262.08 over 7 days x 30.4375 / 7 = $1139.58 per month"
    )
    assert f.action == (
        "Enable prefix caching on chat-8b (vLLM --enable-prefix-caching): its prompts average"
        " 2,300 tokens, of which a 1,800-token prefix is shared, and each prompt token it"
        " computes costs $0.87 per million in prefill."
    )
    assert f.evidence["prefill_share_from"] == "measured phase times"
    assert f.evidence["prefill_share"] == 0.4
    assert f.evidence["measured_hours"] == 168
    assert f.confidence == Confidence.MEDIUM  # only the shared prefix is declared
    json.dumps(f.evidence)


def test_hits_are_priced_over_the_tokens_the_server_still_computed():
    dep = deployment(shared_prefix_tokens=1800, prefix_caching=True)
    measured(dep, hits=QUERIES // 20)  # 5% hits
    [f] = findings()
    # $2.00 an hour now pays for 2,185,000 computed tokens: $0.9153 per 1M.
    # 0.73 x 386,400,000 x $2.00 / 2,185,000 = $258.19 a week x 30.4375 / 7 = $1,122.67
    # (the prefill share alone would say $3,652.50 x 0.4 x 0.73 = $1,066.53).
    assert f.monthly_saving_usd == Decimal("1122.67")
    assert f.arithmetic.startswith(
        "$336.00 of prefill / 367,080,000 prompt tokens computed in 168 served hours"
        " = $0.9153 per 1M; (0.78 expected - 0.05 current hit rate)"
    )
    assert f.title == "Give chat-8b a larger prefix cache"


def test_too_few_measured_hours_fall_back_to_the_token_mix():
    from datetime import timedelta

    from telemetry.models import InferenceRollup

    dep = deployment(shared_prefix_tokens=1800, prefix_caching=False)
    measured(dep)
    # Phase times in the last 23 hours only (an upgraded server): a day is needed.
    InferenceRollup.objects.filter(bucket__lt=END - timedelta(hours=23)).update(
        prefill_s=0, decode_s=0
    )
    [f] = findings()
    assert f.evidence["prefill_share_from"] == "token mix model"
    # $3,652.50 a month x 0.53 (2,300 / (2,300 + 10 x 200)) x 0.78, as unmeasured.
    assert f.monthly_saving_usd == Decimal("1509.94")
