"""Rule 10 on a constructed week: a lightly used deployment costs more on its GPUs than
its hosted alternative would; a busy one, or one with no traffic, is left alone."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from collectors.models import Deployment, Gpu, Node
from costs.breakeven import break_even
from costs.models import CostRecord, HostedAlternative
from inferscope.lib.money import DAYS_PER_MONTH, HOURS_PER_MONTH
from recommendations.choices import Confidence
from recommendations.rules.base import Context
from recommendations.rules.hosted import HostedApi
from telemetry.models import InferenceRollup
from tests.builders.hours import cost_hours, inference_hours

pytestmark = pytest.mark.django_db

END = datetime(2026, 11, 23, tzinfo=UTC)  # the window is the 7 days before
CTX = Context(end=END)


@pytest.fixture
def chat() -> Deployment:
    node = Node.objects.create(name="gpu-node-1")
    gpu = Gpu.objects.create(node=node, uuid="GPU-0", index=0, model_name="H100 SXM")
    dep = Deployment.objects.create(node=node, name="chat-8b", model="llama-3.1-8b")
    dep.gpus.add(gpu)
    HostedAlternative.objects.create(
        deployment=dep,
        name="gpt-4o-mini via OpenAI",
        usd_per_1m_input=Decimal("0.15"),
        usd_per_1m_output=Decimal("0.60"),
    )
    return dep


def week(
    dep: Deployment,
    prompt: int = 100_000,
    generated: int = 25_000,
    hours: int = 7 * 24,
    usd: str = "2.50",
) -> None:
    """`hours` hours up to END: its GPU costed at `usd` an hour, and its tokens an hour."""
    cost_hours(dep.gpus.get(), dep, usd, hours, END)
    inference_hours(
        dep,
        hours,
        END,
        requests_ok=100 if prompt else 0,
        prompt_tokens=prompt,
        generation_tokens=generated,
    )


def test_break_even_and_the_rules_month_are_the_same_length():
    # 365.25 x 24 / 12 = 730.5 hours = 30.4375 days: break_even's volumes and
    # data.monthly()'s dollars scale a week alike.
    assert Decimal(str(HOURS_PER_MONTH)) == DAYS_PER_MONTH * 24


def test_a_lightly_used_deployment_moves_to_the_cheaper_api(chat):
    week(chat)
    [finding] = HostedApi().evaluate(CTX)
    # GPUs: 168 h x $2.50 = $420.00; x 30.4375 / 7 = $1,826.25 a month.
    # API: 16.8M prompt x $0.15 + 4.2M generated x $0.60 per 1M = $2.52 + $2.52 = $5.04;
    # x 30.4375 / 7 = $21.915, $21.92 a month. Saving $1,826.25 - $21.92 = $1,804.33.
    assert finding.monthly_saving_usd == Decimal("1804.33")
    # 21M tokens x 30.4375 / 7 = 91.3M a month; at $0.24 per 1M (the 80/20 mix),
    # $1,826.25 breaks even at 7,609.4M = 7.6B tokens a month.
    assert finding.action == (
        "Route chat-8b's traffic to gpt-4o-mini via OpenAI: at its 91.3M tokens a month"
        " the API would cost $21.92 against $1,826.25 on its GPUs (break-even at 7.6B"
        " tokens a month)."
    )
    assert finding.arithmetic == (
        "self-hosted: $420.00 over 7 days x 30.4375 / 7 = $1826.25 per month;"
        " hosted (16.8M prompt x $0.15 + 4.2M generated x $0.60 per 1M tokens):"
        " $5.04 over 7 days x 30.4375 / 7 = $21.92 per month;"
        " saving $1826.25 - $21.92 = $1804.33 per month"
    )
    assert finding.key == f"hosted:deployment:{chat.pk}"
    assert finding.deployment_id == chat.pk
    assert finding.confidence == Confidence.HIGH
    assert finding.evidence["chart"]["series"][0]["y"] == [1826.25, 21.92]
    # break_even's float figures agree with the Decimal ones.
    be = break_even(chat.hosted_alternative, CTX.start, CTX.end)
    assert be.monthly_cost_usd == pytest.approx(1826.25)
    assert be.hosted_monthly_usd == pytest.approx(21.915)


def test_a_busy_deployment_is_cheaper_self_hosted(chat):
    # 168M prompt x $5 + 42M generated x $15 per 1M = $1,470 a week, $6,391.88 a
    # month: more than the GPUs' $1,826.25. Self-hosting is the status quo.
    HostedAlternative.objects.filter(deployment=chat).update(
        usd_per_1m_input=Decimal(5), usd_per_1m_output=Decimal(15)
    )
    week(chat, prompt=1_000_000, generated=250_000)
    assert HostedApi().evaluate(CTX) == []


def test_a_deployment_with_no_traffic_is_left_to_idle_gpus(chat):
    week(chat, prompt=0, generated=0)
    assert HostedApi().evaluate(CTX) == []


def test_no_alternative_no_costs_or_too_few_hours_say_nothing(chat):
    assert HostedApi().evaluate(CTX) == []  # no cost records, no traffic
    week(chat, hours=20)
    assert HostedApi().evaluate(CTX) == []  # 20 hours: too few to judge
    CostRecord.objects.all().delete()
    InferenceRollup.objects.all().delete()
    week(chat, usd="0")
    assert HostedApi().evaluate(CTX) == []  # unpriced GPUs: nothing to save
    HostedAlternative.objects.all().delete()
    assert HostedApi().evaluate(CTX) == []


def test_part_of_the_week_gives_medium_confidence(chat):
    week(chat, hours=48)
    [finding] = HostedApi().evaluate(CTX)
    # 48 h x $2.50 = $120.00 -> $521.79 a month; 4.8M x $0.15 + 1.2M x $0.60 = $1.44
    # -> $6.26 a month; saving $521.79 - $6.26 = $515.53.
    assert finding.monthly_saving_usd == Decimal("515.53")
    assert finding.confidence == Confidence.MEDIUM
