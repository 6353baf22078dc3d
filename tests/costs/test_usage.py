"""Figures over a range, checked by hand against the hand-checked fleet's day."""

from datetime import timedelta
from decimal import Decimal

import pytest

from collectors.models import Deployment, Gpu, InferenceSample
from costs.pipeline import rollup_pending
from costs.spend import Scope, spend_by_group, spend_steps, spend_totals
from inferscope.lib.timerange import DAY as DAY_S
from inferscope.lib.timerange import HOUR, MINUTE, RAW, TimeRange
from telemetry.usage import (
    aligned,
    deployment_series,
    deployment_totals,
    gpu_series,
    gpu_totals,
    steps,
    tiles,
)
from tests.costs.fleet import DAY, set_prices, store_day

pytestmark = pytest.mark.django_db
TTFT = {"bounds": [0.1, 0.25, 0.5, 1.0], "counts": [4, 4, 2, 0, 0], "sum": 1.9}


@pytest.fixture
def day() -> None:
    store_day()
    InferenceSample.objects.filter(deployment__name="chat").update(ttft_hist=TTFT)
    set_prices()
    rollup_pending(now=DAY + timedelta(days=1, hours=1))


def whole_day(source: int) -> TimeRange:
    return TimeRange("custom", DAY, DAY + timedelta(days=1), source)


def test_tiles_cover_a_range_with_days_in_the_middle_and_finer_edges() -> None:
    start = DAY + timedelta(hours=22, minutes=30)
    end = DAY + timedelta(days=3, hours=1, minutes=15)
    assert tiles(start, end, MINUTE) == [
        (MINUTE, start, DAY + timedelta(hours=23)),
        (HOUR, DAY + timedelta(hours=23), DAY + timedelta(days=1)),
        (DAY_S, DAY + timedelta(days=1), DAY + timedelta(days=3)),
        (HOUR, DAY + timedelta(days=3), DAY + timedelta(days=3, hours=1)),
        (MINUTE, DAY + timedelta(days=3, hours=1), end),
    ]
    assert tiles(start, end, RAW) == [(RAW, start, end)]


@pytest.mark.parametrize("source", [MINUTE, HOUR, DAY_S])
def test_gpu_totals_are_the_same_from_every_source(day: None, source: int) -> None:
    totals = gpu_totals(whole_day(source))
    a0, b0 = Gpu.objects.get(uuid="a0").pk, Gpu.objects.get(uuid="b0").pk
    assert totals[a0]["util"] == pytest.approx(50.0)
    assert totals[a0]["power"] == pytest.approx(500.0)
    assert totals[a0]["temp_max"] == 69.0
    assert totals[a0]["mem_used"] == pytest.approx(60 * 2**30)
    assert totals[a0]["energy_j"] == pytest.approx(1440 * 30_000)
    assert totals[b0]["util"] == 0.0 and totals[b0]["mem_used"] is None


def test_a_gpu_series_has_one_point_per_step_and_gaps_stay_gaps(day: None) -> None:
    tr = TimeRange("custom", DAY - timedelta(hours=2), DAY + timedelta(hours=2), MINUTE)
    a0 = Gpu.objects.get(uuid="a0").pk
    series = gpu_series(tr, [a0])[a0]
    times = steps(tr)
    util = aligned(series, times, "util")
    assert tr.step == 60 and len(times) == 240
    # Nothing before the day (one sample the minute before it, which only opens it).
    assert util[:119] == [None] * 119
    assert util[120:] == [pytest.approx(50.0)] * 120


def test_deployment_totals_merge_histograms_into_percentiles(day: None) -> None:
    chat = Deployment.objects.get(name="chat").pk
    for source in (MINUTE, HOUR, DAY_S):
        fig = deployment_totals(whole_day(source), [chat])[chat]
        assert fig.requests == 14_400
        assert fig.requests_per_s == pytest.approx(14_400 / 86_400)
        assert fig.tokens_per_s == pytest.approx(2_160_000 / 86_400)
        # 14,400 requests: 5,760 under 100 ms, 5,760 more under 250 ms, 2,880 under 500 ms.
        assert fig.p("ttft_hist", 0.5) == pytest.approx(0.1 + 0.15 * (7_200 - 5_760) / 5_760)
        assert fig.p("ttft_hist", 0.95) == pytest.approx(0.25 + 0.25 * (13_680 - 11_520) / 2_880)
        assert fig.p("itl_hist", 0.5) is None
        assert fig.error_rate == 0


def test_a_deployment_series_has_percentiles_per_step(day: None) -> None:
    chat = Deployment.objects.get(name="chat").pk
    times, points = deployment_series(whole_day(HOUR), chat)
    assert len(times) == 24 and times[0] == DAY
    assert all(p.requests == 600 for p in points)
    assert points[5].p("ttft_hist", 0.5) == pytest.approx(0.1375)


def test_spend_adds_up_to_the_bill_and_separates_idle(day: None) -> None:
    totals = spend_totals(DAY, DAY + timedelta(days=1))
    assert totals.usd == Decimal("120.36")
    # node-b's L4 ($24.36), a1's unclaimed third ($12) and embed, which held a1
    # but served nothing ($12).
    assert totals.idle_usd == Decimal("48.36")
    assert totals.idle_share == pytest.approx(48.36 / 120.36)


def test_spend_groups_by_label_and_a_label_scope_keeps_its_gpus_idle(day: None) -> None:
    deployments = {
        d["id"]: d for d in Deployment.objects.values("id", "name", "node__name", "labels")
    }
    rows = spend_steps(DAY, DAY + timedelta(days=1), 86_400)
    times, groups = spend_by_group(rows, deployments, "label:team")
    assert times == [DAY]
    assert groups["search"] == [pytest.approx(60.0)]  # chat $48 + embed $12
    assert groups["ml"] == [pytest.approx(24.0)]
    assert list(groups)[-1] == "(idle)"
    ml = Deployment.objects.get(name="rerank")
    scoped = spend_totals(
        DAY, DAY + timedelta(days=1), Scope([ml.pk], [g.pk for g in ml.gpus.all()])
    )
    # rerank's $24 plus the idle remainder of a1, the GPU it runs on ($12); not embed's share.
    assert scoped.usd == Decimal("36.00")
    assert scoped.by_deployment == {ml.pk: Decimal("24.00")}


def test_hourly_spend_is_the_sum_of_the_hours_records_and_follows_a_repricing(day: None) -> None:
    from django.db.models import Sum

    from costs.attribution import recompute_since
    from costs.models import CostRecord, HourlySpend, PriceBookEntry

    def compare() -> None:
        records = {
            (r["hour"], r["deployment_id"]): r["usd"]
            for r in CostRecord.objects.values("hour", "deployment_id").annotate(usd=Sum("usd"))
        }
        sums = {(s.hour, s.deployment_id): s.usd for s in HourlySpend.objects.all()}
        assert sums.keys() == records.keys() and len(sums) > 24
        for key, usd in records.items():
            assert sums[key] == pytest.approx(usd, abs=Decimal("0.000001")), key

    compare()
    embed = Deployment.objects.get(name="embed").pk
    held = HourlySpend.objects.filter(deployment_id=embed).aggregate(Sum("idle_held_usd"))
    assert held["idle_held_usd__sum"] == pytest.approx(Decimal(12))
    PriceBookEntry.objects.filter(gpu_model="H100 SXM").update(usd_per_gpu_hour=Decimal(4))
    recompute_since(DAY)
    compare()
    # Two H100s for 24 hours at $2 more an hour: $96 more.
    assert spend_totals(DAY, DAY + timedelta(days=1)).usd == Decimal("216.36")
