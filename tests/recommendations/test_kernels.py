"""Rule 5 on a constructed week: chat-8b served with math attention, not compiled,
while its bf16 sweep shows flash attention with torch.compile 1.9x faster."""

import json
from decimal import Decimal
from typing import Any

import pytest

from collectors.models import Deployment
from recommendations.choices import Confidence
from recommendations.rules.base import Context
from recommendations.rules.kernels import Kernels
from tests.builders.hours import END
from tests.recommendations.tuning import Point, costs, deployment, sweep, traffic

pytestmark = pytest.mark.django_db


def kernel_points() -> list[Point]:
    """bf16 at the served shape (1024, 256): every attention x compiled at batch 16."""
    long, bf16 = (1024, 256), ("bf16", "none")
    return [
        (*long, 1, *bf16, "math", False, 100, 20, 40),
        (*long, 1, *bf16, "flash", False, 130, 16, 30),
        (*long, 1, *bf16, "flash", True, 160, 14, 29),
        (*long, 16, *bf16, "math", False, 1000, 50, 400),
        (*long, 16, *bf16, "flash", False, 1500, 35, 250),
        (*long, 16, *bf16, "math", True, 1300, 40, 380),
        (*long, 16, *bf16, "flash", True, 1900, 30, 240),
        # Another precision: held apart, whatever its speed.
        (*long, 16, "fp16", "none", "flash", True, 5000, 10, 100),
    ]


def served(**settings: Any) -> Deployment:
    values = {"dtype": "bf16", "quant": "none", "attention": "math", "compiled": False}
    dep = deployment(**{**values, **settings})
    costs(dep)
    traffic(dep)
    return dep


def test_flash_attention_with_torch_compile_is_proposed():
    dep = served()
    job = sweep(dep, kernel_points())
    [f] = Kernels().evaluate(Context(end=END))
    # $840 a week x 30.4375 / 7 = $3,652.50 a month; flash + compile at batch 16 makes
    # 1,900 tokens/s against 1,000: x (1 - 1/1.9) = $3,652.50 x 9/19 = $1,730.13.
    assert f.monthly_saving_usd == Decimal("1730.13")
    assert f.arithmetic == "$840.00 over 7 days x 30.4375 / 7 x (1 - 1/1.9) = $1730.13 per month"
    assert f.action == (
        f"Use flash attention on chat-8b instead of math and enable torch.compile: profiling"
        f" job #{job.pk} shows 1.9x tokens/s at ITL 30 ms (p95 target 100 ms) and TTFT 240 ms"
        " (target 2000 ms)."
    )
    assert f.title == "Use flash attention on chat-8b"
    assert f.confidence == Confidence.HIGH
    assert f.evidence["current"] == "math attention"
    json.dumps(f.evidence)  # stored with the finding
    assert f.evidence["proposed"] == "flash attention, compiled"
    assert f.evidence["chart"]["series"] == [
        {"name": "math attention (now)", "y": [100, 1000]},
        {"name": "flash attention, compiled (proposed)", "y": [160, 1900]},
    ]


def test_torch_compile_alone_is_proposed_where_flash_is_served():
    dep = served(attention="flash")
    job = sweep(dep, kernel_points())
    [f] = Kernels().evaluate(Context(end=END))
    # 1,900 / 1,500 = 1.2667, stated as 1.27: $3,652.50 x 0.27 / 1.27 = $776.52.
    assert f.monthly_saving_usd == Decimal("776.52")
    assert f.action == (
        f"Enable torch.compile on chat-8b: profiling job #{job.pk} shows 1.27x tokens/s"
        " at ITL 30 ms (p95 target 100 ms) and TTFT 240 ms (target 2000 ms)."
    )
    assert f.title == "Enable torch.compile on chat-8b"


def test_a_deployment_on_the_fastest_kernels_is_silent():
    dep = served(attention="flash", compiled=True)
    sweep(dep, kernel_points())
    assert Kernels().evaluate(Context(end=END)) == []


def test_unknown_kernels_say_nothing():
    blank = served(name="blank-attention", attention="")
    sweep(blank, kernel_points())
    unset = served(name="unset-compile", compiled=None)
    sweep(unset, kernel_points())
    assert Kernels().evaluate(Context(end=END)) == []


def test_no_sweep_or_a_sweep_without_the_served_setting_says_nothing():
    served(name="unprofiled")
    efficient = served(name="efficient", attention="efficient")  # never measured
    sweep(efficient, kernel_points())
    assert Kernels().evaluate(Context(end=END)) == []
