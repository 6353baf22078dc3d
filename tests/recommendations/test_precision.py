"""Rule 4 on a constructed week: chat-8b served in fp32 while its sweep shows bf16
2.5x faster within the latency targets. The helpers here build the deployment,
its week of cost and traffic, and its sweep for the kernels and prefix cache tests too."""

import json
from decimal import Decimal
from typing import Any

import pytest

from collectors.models import Deployment
from profiling.choices import JobStatus
from recommendations.choices import Confidence
from recommendations.rules.base import Context
from recommendations.rules.precision import Precision
from tests.builders.hours import END
from tests.recommendations.tuning import Point, costs, deployment, sweep, traffic

pytestmark = pytest.mark.django_db


def precision_points(
    bf16_b16: float = 2500, int8_b16_itl: float = 120, fp16_b16: float = 2400
) -> list[Point]:
    """fp32 against bf16, fp16 and bf16+int8, flash attention, not compiled."""
    long, short = (1024, 256), (128, 128)
    flash = ("flash", False)
    return [
        (*long, 1, "fp32", "none", *flash, 100, 20, 50),
        (*long, 1, "bf16", "none", *flash, 180, 12, 30),
        (*long, 1, "fp16", "none", *flash, 172, 12, 31),
        (*long, 1, "bf16", "int8", *flash, 150, 14, 35),
        (*long, 16, "fp32", "none", *flash, 1000, 60, 600),
        (*long, 16, "bf16", "none", *flash, bf16_b16, 40, 300),
        (*long, 16, "fp16", "none", *flash, fp16_b16, 42, 310),
        (*long, 16, "bf16", "int8", *flash, 2600, int8_b16_itl, 280),
        (*long, 32, "fp32", "none", *flash, 0, 0, 0),  # out of memory
        (*long, 32, "bf16", "none", *flash, 4000, 70, 550),
        # Compiled differs from what is served: never held against fp32 flash.
        (*long, 16, "bf16", "none", "flash", True, 9000, 20, 100),
        (*short, 16, "fp32", "none", *flash, 800, 50, 80),
        (*short, 16, "bf16", "none", *flash, 1200, 35, 50),
        (*short, 16, "fp16", "none", *flash, 1100, 36, 52),
    ]


def fp32_chat(**settings: Any) -> Deployment:
    values = {"dtype": "fp32", "quant": "none", "attention": "flash", "compiled": False}
    return deployment(**{**values, **settings})


def test_a_faster_precision_at_the_served_load_is_proposed():
    dep = fp32_chat()
    costs(dep)
    traffic(dep)  # 1,000-token prompts, 200 generated, 16 in flight: (1024, 256) at batch 16
    job = sweep(dep, precision_points())
    findings = Precision().evaluate(Context(end=END))
    assert len(findings) == 1
    f = findings[0]
    # 168 h x $5 = $840 a week; x 30.4375 / 7 = $3,652.50 a month; bf16 at batch 16
    # makes 2,500 tokens/s against fp32's 1,000: N = 2.5, so x (1 - 1/2.5) = $2,191.50.
    assert f.monthly_saving_usd == Decimal("2191.50")
    assert f.arithmetic == ("$840.00 over 7 days x 30.4375 / 7 x (1 - 1/2.5) = $2191.50 per month")
    assert f.action == (
        f"Serve chat-8b in bf16 instead of fp32: profiling job #{job.pk} shows 2.5x tokens/s"
        " at ITL 40 ms (p95 target 100 ms) and TTFT 300 ms (target 2000 ms)."
    )
    assert f.title == "Serve chat-8b in bf16"
    assert f.confidence == Confidence.HIGH
    assert (f.key, f.deployment_id, f.node_id) == (f"deployment:{dep.pk}", dep.pk, dep.node_id)
    assert f.evidence["speedup_from"] == "served load"
    json.dumps(f.evidence)  # stored with the finding
    assert f.evidence["pair"]["batch_size"] == 16
    chart = f.evidence["chart"]
    assert chart["x"] == [1, 16, 32]
    assert chart["series"] == [
        {"name": "fp32 (now)", "y": [100, 1000, None]},
        {"name": "bf16 (proposed)", "y": [180, 2500, 4000]},
    ]


def test_without_a_served_load_n_is_the_median_over_comparable_pairs():
    dep = fp32_chat()
    costs(dep)
    traffic(dep, concurrency=None)
    sweep(dep, precision_points())
    [f] = Precision().evaluate(Context(end=END))
    # bf16 against fp32: 1.8 (batch 1), 2.5 (batch 16), 1.5 (short prompts): median 1.8,
    # above fp16's (1.72, 2.4, 1.375: 1.72). $3,652.50 x (1 - 1/1.8) = $1,623.33.
    assert f.monthly_saving_usd == Decimal("1623.33")
    assert f.evidence["speedup_from"] == "median of 3 pairs"
    assert "bf16 instead of fp32" in f.action and "1.8x tokens/s at ITL 12 ms" in f.action


def test_int8_is_proposed_with_medium_confidence_for_its_quality_check():
    dep = fp32_chat()
    costs(dep)
    traffic(dep)
    sweep(dep, precision_points(int8_b16_itl=45))
    [f] = Precision().evaluate(Context(end=END))
    # 2,600 / 1,000 = 2.6: $3,652.50 x (1 - 1/2.6) = $2,247.69.
    assert f.monthly_saving_usd == Decimal("2247.69")
    assert f.action.startswith("Serve chat-8b in bf16 with int8 weights instead of fp32:")
    assert f.confidence == Confidence.MEDIUM
    assert "quality" in f.evidence["confidence_reason"]


def test_a_part_week_of_cost_is_medium_confidence():
    dep = fp32_chat()
    costs(dep, hours=100)
    traffic(dep)
    sweep(dep, precision_points())
    [f] = Precision().evaluate(Context(end=END))
    # 100 h x $5 = $500; x 30.4375 / 7 x 0.6 = $1,304.46.
    assert f.monthly_saving_usd == Decimal("1304.46")
    assert f.confidence == Confidence.MEDIUM


def test_a_gain_of_exactly_the_threshold_fires_and_under_it_is_silent():
    dep = fp32_chat()
    costs(dep)
    traffic(dep)
    job = sweep(dep, precision_points(bf16_b16=1100, fp16_b16=1050))
    [f] = Precision().evaluate(Context(end=END))
    # N = 1.1: $3,652.50 x (1 - 1/1.1) = $3,652.50 / 11 = $332.05.
    assert f.monthly_saving_usd == Decimal("332.05")
    job.delete()
    sweep(dep, precision_points(bf16_b16=1090, fp16_b16=1050))
    assert Precision().evaluate(Context(end=END)) == []


def test_a_deployment_already_on_the_best_precision_is_silent():
    dep = fp32_chat(dtype="bf16")
    costs(dep)
    traffic(dep)
    sweep(dep, precision_points())
    assert Precision().evaluate(Context(end=END)) == []


def test_alternatives_missing_the_latency_target_are_not_proposed():
    dep = fp32_chat(slo_itl_ms=30.0)  # every faster point at batch 16 takes 40 ms or more
    costs(dep)
    traffic(dep)
    sweep(dep, [p for p in precision_points() if p[2] == 16])
    assert Precision().evaluate(Context(end=END)) == []


def test_an_unknown_precision_says_nothing():
    for settings in ({}, {"dtype": "fp32"}, {"quant": "none"}):
        dep = deployment(name=f"chat-{len(settings)}-{list(settings)}", **settings)
        costs(dep)
        traffic(dep)
        sweep(dep, precision_points())
    assert Precision().evaluate(Context(end=END)) == []


def test_no_finished_sweep_no_cost_or_too_little_cost_says_nothing():
    unprofiled = fp32_chat(name="unprofiled")
    costs(unprofiled)
    traffic(unprofiled)
    running = fp32_chat(name="running")
    costs(running)
    sweep(running, precision_points(), status=JobStatus.RUNNING)
    unpriced = fp32_chat(name="unpriced")
    costs(unpriced, usd="0")
    sweep(unpriced, precision_points())
    new = fp32_chat(name="new")
    costs(new, hours=20)  # under a day of cost
    sweep(new, precision_points())
    assert Precision().evaluate(Context(end=END)) == []
