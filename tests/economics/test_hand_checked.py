"""Idle taxonomy, prefill/decode dollars, cache savings and goodput of two hours of
tests/economics/fleet.py, every figure computed by hand."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db.models import Sum

from collectors.models import Deployment, DeploymentSettings
from costs.economics.figures import economics_by_step, economics_totals
from costs.economics.idle import idle_held_deployments, idle_series
from costs.economics.phases import FORWARD, REQUEST
from costs.models import CostRecord, HourlySpend
from costs.selectors import cost_by
from tests.economics.fleet import END, H, store

pytestmark = pytest.mark.django_db


@pytest.fixture
def fleet() -> dict[str, int]:
    store()
    return {d.name: d.pk for d in Deployment.objects.all()}


def test_every_gpu_hour_is_active_idle_held_or_truly_idle(fleet: dict[str, int]) -> None:
    steps = idle_series(H, END, 3600)
    assert [s.at for s in steps] == [H, H + timedelta(hours=1)]
    first, second = steps
    # Hour H: chat served 45 of 60 minutes on e0 ($2): $1.50 active, $0.50 idle-held.
    # embed serves throughout on e1: $2.00 active. Nobody is on e2: $2.00 truly idle.
    assert first.active_usd == Decimal("3.50")
    assert first.idle_held_usd == Decimal("0.50")
    assert first.truly_idle_usd == Decimal("2.00")
    assert (first.active_hours, first.idle_held_hours, first.truly_idle_hours) == pytest.approx(
        (1.75, 0.25, 1.0)
    )
    # Hour H+1: chat ran nothing at all.
    assert second.active_usd == Decimal("2.00")
    assert second.idle_held_usd == Decimal("2.00")
    assert second.truly_idle_usd == Decimal("2.00")


def test_the_three_add_up_to_the_bill_to_the_cent(fleet: dict[str, int]) -> None:
    bill = CostRecord.objects.aggregate(total=Sum("usd"))["total"]
    assert bill == Decimal("12.00")  # 3 GPUs x 2 h x $2
    steps = idle_series(H, END, 86400)
    assert len(steps) == 1
    assert steps[0].usd == bill
    rows = {r.key: r for r in cost_by(H, END, "deployment")}
    total = rows["total"]
    assert total.active_usd + total.idle_held_usd + total.truly_idle_usd == bill
    assert rows["chat on node-e"].idle_held_usd == Decimal("2.50")
    assert rows["chat on node-e"].active_usd == Decimal("1.50")
    assert rows["(idle)"].truly_idle_usd == Decimal("4.00")
    by_node = {r.key: r for r in cost_by(H, END, "node")}
    node = by_node["node-e"]
    assert (node.active_usd, node.idle_held_usd, node.truly_idle_usd) == (
        Decimal("5.50"),
        Decimal("2.50"),
        Decimal("4.00"),
    )
    assert (node.active_hours, node.idle_held_hours, node.truly_idle_hours) == pytest.approx(
        (2.75, 1.25, 2.0)
    )
    by_team = {r.key: r for r in cost_by(H, END, "label:team")}
    assert by_team["a"].idle_held_usd == Decimal("2.50")
    assert by_team["b"].idle_held_usd == Decimal("0")
    held = HourlySpend.objects.filter(deployment_id=fleet["chat"]).aggregate(
        Sum("idle_held_gpu_hours")
    )
    assert held["idle_held_gpu_hours__sum"] == pytest.approx(1.25)


def test_an_idle_held_deployment_comes_first(fleet: dict[str, int]) -> None:
    held = idle_held_deployments(H, END)
    assert [h.deployment.name for h in held] == ["chat"]
    assert held[0].idle_held_usd == Decimal("2.50")
    assert held[0].held_share == pytest.approx(2.5 / 4)


def test_vllm_cost_is_split_by_its_phase_times(fleet: dict[str, int]) -> None:
    chat = economics_by_step(H, END, 3600, [fleet["chat"]])[fleet["chat"]][H]
    # 45 minutes x (30 s prefill, 90 s decode request-seconds) in 2,700 busy seconds:
    # the average batch is (1,350 + 4,050) / 2,700 = 2, so decode GPU time is
    # 4,050 / 2 = 2,025 s, and prefill's share 1,350 / (1,350 + 2,025) = 0.4.
    assert chat.basis == REQUEST
    assert chat.prefill_usd == pytest.approx(0.80)
    assert chat.decode_usd == pytest.approx(1.20)
    assert chat.usd_per_1m_prompt == pytest.approx(0.80 / 45_000 * 1e6)  # 17.78
    assert chat.usd_per_1m_generated == pytest.approx(1.20 / 22_500 * 1e6)  # 53.33


def test_an_idle_hour_is_split_as_the_served_hours_were(fleet: dict[str, int]) -> None:
    chat = economics_totals(H, END, [fleet["chat"]])[fleet["chat"]]
    assert float(chat.cost_usd) == pytest.approx(4.00)
    assert chat.prefill_usd + chat.decode_usd == pytest.approx(4.00)
    assert chat.prefill_usd == pytest.approx(1.60)
    assert chat.usd_per_1m_prompt == pytest.approx(1.60 / 45_000 * 1e6)


def test_tgi_cost_follows_its_batch_times(fleet: dict[str, int]) -> None:
    embed = economics_totals(H, END, [fleet["embed"]])[fleet["embed"]]
    assert embed.basis == FORWARD
    # Only prefill batches ran: all $4.00 is prefill, over 240,000 prompt tokens.
    assert embed.prefill_usd == pytest.approx(4.00)
    assert embed.usd_per_1m_prompt == pytest.approx(4.00 / 240_000 * 1e6)
    assert embed.usd_per_1m_generated is None


def test_cache_savings_are_hits_at_the_prefill_price_less_recomputation(
    fleet: dict[str, int],
) -> None:
    chat = economics_totals(H, END, [fleet["chat"]])[fleet["chat"]]
    # Hour H: 18,000 of 45,000 prompt tokens were cache hits. The 27,000 computed cost
    # the prefill share (0.4) of the hour's active dollars ($1.50; the idle-held $0.50
    # computed nothing): $0.60 / 27,000 per token.
    per_token = 0.60 / 27_000
    assert chat.hit_rate == pytest.approx(0.4)
    assert chat.cache_saved_usd == pytest.approx(18_000 * per_token)  # $0.40
    # One preemption redoes an average request: (45,000 + 22,500 / 2) / 450 = 125 tokens.
    assert chat.recompute_usd == pytest.approx(125 * per_token)
    assert chat.cache_net_usd == pytest.approx((18_000 - 125) * per_token)  # $0.3972


def test_goodput_is_the_share_within_every_target(fleet: dict[str, int]) -> None:
    chat = economics_totals(H, END, [fleet["chat"]])[fleet["chat"]]
    # TTFT within 2 s: 6 + 2 + 2 x (2.0 - 1.0) / (2.5 - 1.0) = 9.333 of 10 requests.
    assert chat.met_share("ttft") == pytest.approx(0.93333, rel=1e-4)
    assert chat.met_share("itl") == pytest.approx(0.96)  # 480 of 500 tokens within 100 ms
    assert chat.met_share("e2e") == pytest.approx(1.0)
    assert chat.requests == 450
    assert chat.good_requests == pytest.approx(450 * 0.93333, rel=1e-4)  # 420
    assert chat.goodput == pytest.approx(0.93333, rel=1e-4)
    # At least: 1 - (0.0667 + 0.04 + 0) of them met all three.
    assert chat.goodput_min == pytest.approx(1 - 0.066667 - 0.04, rel=1e-4)
    # $4.00 over the two hours, for 420 good requests.
    assert chat.usd_per_good_request == pytest.approx(4.00 / 420, rel=1e-4)


def test_goodput_follows_the_edited_targets(fleet: dict[str, int]) -> None:
    DeploymentSettings.objects.create(
        deployment_id=fleet["chat"], slo_ttft_ms=1000, slo_itl_ms=50, slo_e2e_ms=10_000
    )
    chat = economics_totals(H, END, [fleet["chat"]])[fleet["chat"]]
    assert chat.met_share("ttft") == pytest.approx(0.8)
    assert chat.met_share("itl") == pytest.approx(0.8)
    assert chat.met_share("e2e") == pytest.approx(0.9)
    assert chat.goodput == pytest.approx(0.8)
    assert chat.goodput_min == pytest.approx(1 - 0.2 - 0.2 - 0.1)


def test_an_embedder_is_judged_on_end_to_end_latency_only(fleet: dict[str, int]) -> None:
    embed = economics_totals(H, END, [fleet["embed"]])[fleet["embed"]]
    assert embed.met_share("ttft") is None
    assert embed.goodput == pytest.approx(1.0)  # every request within 30 s
    assert embed.good_requests == pytest.approx(2_400)


def test_cents_shown_for_the_three_add_up_to_the_cents_of_the_bill() -> None:
    from costs.economics.idle import to_cents

    # Rounded alone: 5.01 + 2.00 + 3.00 = 10.01 against a bill of 10.02.
    parts = [Decimal("5.005"), Decimal("2.005"), Decimal("3.005")]
    assert sum(to_cents(parts)) == Decimal("10.015").quantize(Decimal("0.01"))
    assert to_cents([Decimal("0.004"), Decimal("0.004"), Decimal(0)]) == [
        Decimal("0.01"),
        Decimal("0.00"),
        Decimal("0.00"),
    ]
