"""Every figure of one day of a small fleet, computed by hand in the test."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db.models import Sum

from costs.models import CostRecord
from costs.pipeline import rollup_pending
from costs.selectors import cost_by
from telemetry.choices import Resolution
from telemetry.models import GpuRollup, InferenceRollup
from tests.costs.fleet import DAY, set_prices, store_day

pytestmark = pytest.mark.django_db
END = DAY + timedelta(days=1)


@pytest.fixture
def day() -> None:
    store_day()
    set_prices()
    rollup_pending(now=DAY + timedelta(days=1, hours=1))


def rows(by: str) -> dict:
    return {r.key: r for r in cost_by(DAY, END, by)}


def test_each_gpu_is_present_the_whole_day(day: None) -> None:
    for gpu in ("a0", "a1", "b0"):
        daily = GpuRollup.objects.get(gpu__uuid=gpu, resolution=Resolution.DAY, bucket=DAY)
        assert daily.present_s == pytest.approx(86_400)
        assert daily.samples == 1440
    a0 = GpuRollup.objects.get(gpu__uuid="a0", resolution=Resolution.DAY, bucket=DAY)
    # 30 kJ per minute from the energy counter = 500 W; 1440 minutes = 12 kWh.
    assert a0.energy_j == pytest.approx(1440 * 30_000)
    assert a0.util_avg == pytest.approx(50.0)
    assert a0.temp_max == 69.0  # 60 + minute % 10
    assert a0.temp_avg == pytest.approx(64.5)
    assert a0.mem_used_avg == pytest.approx(60 * 2**30)
    assert a0.sm_clock_avg == pytest.approx(1505)  # 1500 and 1510 in turn
    b0 = GpuRollup.objects.get(gpu__uuid="b0", resolution=Resolution.DAY, bucket=DAY)
    # No counter: 100 W x 86,400 s.
    assert b0.energy_j == pytest.approx(8_640_000)
    assert b0.sm_clock_avg is None and b0.mem_used_avg is None  # never reported


def test_a_deployment_alone_on_a_gpu_pays_all_of_it(day: None) -> None:
    chat = rows("deployment")["chat on node-a"]
    assert chat.cost_usd == Decimal("48.00")  # 24 h x $2.00
    assert chat.gpu_hours == pytest.approx(24)
    assert chat.requests == 14_400  # 10 per minute
    assert chat.usd_per_request == pytest.approx(48 / 14_400)
    assert chat.usd_per_1m_tokens == pytest.approx(48 / 2_160_000 * 1e6)  # 22.22
    # Decode weight 4: 1.44M prompt + 4 x 0.72M generated = 4.32M weighted tokens.
    assert chat.usd_per_1m_prompt_tokens == pytest.approx(48 / 4_320_000 * 1e6)  # 11.11
    assert chat.usd_per_1m_generated_tokens == pytest.approx(4 * 48 / 4_320_000 * 1e6)  # 44.44
    assert chat.energy_wh == pytest.approx(12_000)
    assert chat.wh_per_1k_tokens == pytest.approx(12_000 / 2_160)


def test_a_shared_gpu_is_split_by_measured_memory_and_the_rest_is_idle(day: None) -> None:
    by_deployment = rows("deployment")
    # a1 costs $48: embed holds 20/80 GiB, rerank 40/80, nobody 20/80.
    assert by_deployment["rerank on node-a"].cost_usd == Decimal("24.00")
    embed = by_deployment["embed on node-a"]
    assert embed.cost_usd == Decimal("12.00")
    assert embed.idle_usd == Decimal("12.00")  # it finished no request all day
    assert embed.usd_per_request is None
    # Idle: a1's unheld quarter ($12) and all of node-b's L4.
    # L4: $8,766 / 8,766 h = $1.00/h + 0.1 kWh x 1.5 x $0.10 = $1.015/h; x 24 = $24.36.
    idle = by_deployment["(idle)"]
    assert idle.cost_usd == Decimal("12.00") + Decimal("24.36")
    total = by_deployment["total"]
    assert total.cost_usd == Decimal("48") + Decimal("48") + Decimal("24.36")
    assert total.idle_usd == Decimal("12") + Decimal("36.36")
    assert total.gpu_hours == pytest.approx(72)


def test_labels_group_deployments_and_keep_idle_apart(day: None) -> None:
    by_team = rows("label:team")
    assert by_team["search"].cost_usd == Decimal("60.00")
    assert by_team["ml"].cost_usd == Decimal("24.00")
    assert by_team["(idle)"].cost_usd == Decimal("36.36")
    assert by_team["search"].requests == 14_400


def test_by_gpu_and_node_add_up_to_the_same_total(day: None) -> None:
    by_gpu = rows("gpu")
    assert by_gpu["node-b #0 NVIDIA L4 (b0)"].cost_usd == Decimal("24.36")
    a1 = by_gpu["node-a #1 NVIDIA H100 80GB HBM3 (a1)"]
    assert a1.cost_usd == Decimal("48.00")
    assert a1.idle_usd == Decimal("24.00")  # embed's idle-held share + the unheld quarter
    by_node = rows("node")
    assert by_node["node-a"].cost_usd == Decimal("96.00")
    assert by_node["node-a"].requests == 14_400 + 7_200
    assert by_node["total"].cost_usd == rows("deployment")["total"].cost_usd


def test_every_gpu_hour_adds_up_exactly(day: None) -> None:
    for hour_total in (
        CostRecord.objects.values("hour", "gpu")
        .annotate(usd=Sum("usd"))
        .values_list("usd", flat=True)
    ):
        assert hour_total in (Decimal("2.000000"), Decimal("1.015000"))
    assert CostRecord.objects.filter(usd__lt=0).count() == 0


def test_latency_and_volume_roll_up_per_hour_and_day(day: None) -> None:
    chat = InferenceRollup.objects.get(
        deployment__name="chat", resolution=Resolution.DAY, bucket=DAY
    )
    assert chat.requests_ok == 14_400
    assert chat.prompt_tokens == 1_440_000
    assert chat.present_s == pytest.approx(86_400)
    assert chat.gpu_memory == {"a0": [72 * 2**30 * 1440, 1440]}
    hours = InferenceRollup.objects.filter(
        deployment__name="chat", resolution=Resolution.HOUR, bucket__gte=DAY, bucket__lt=END
    )
    assert hours.count() == 24
    assert {h.requests_ok for h in hours} == {600}


def test_traffic_on_gpus_nobody_reported_still_counts(day: None) -> None:
    from datetime import timedelta as td

    import msgspec

    from collectors.ingest import ingest_batch
    from collectors.models import Agent

    body = {
        "schema_version": 1,
        "batch_id": "remote",
        "inventory": {"deployments": [{"name": "remote", "node": "node-a"}]},
        "inference_samples": [
            {
                "deployment": "remote",
                "ts": (DAY + td(hours=1)).isoformat(),
                "interval_s": 60.0,
                "requests_ok": 9,
                "prompt_tokens": 90,
            }
        ],
    }
    ingest_batch(Agent.objects.get(), msgspec.json.encode(body), now=END + td(days=1))
    rollup_pending(now=END + td(hours=1))
    by_deployment = rows("deployment")
    assert by_deployment["remote on node-a"].requests == 9
    assert by_deployment["remote on node-a"].cost_usd == 0
    assert by_deployment["total"].requests == 14_400 + 7_200 + 9
    assert rows("gpu")["(no GPU reported)"].requests == 9


def test_traffic_of_a_deployment_holding_no_memory_stays_in_the_totals(day: None) -> None:
    from datetime import timedelta as td

    import msgspec

    from collectors.ingest import ingest_batch
    from collectors.models import Agent

    # A deployment reporting 0 bytes on a1 gets a 0 share: no cost, but its requests count.
    body = {
        "schema_version": 1,
        "batch_id": "zero-memory",
        "inventory": {
            "deployments": [{"name": "tiny", "node": "node-a", "labels": {"team": "ml"}}]
        },
        "inference_samples": [
            {
                "deployment": "tiny",
                "ts": (DAY + td(hours=1)).isoformat(),
                "interval_s": 60.0,
                "requests_ok": 7,
                "gpu_memory": {"a1": 0},
            }
        ],
    }
    ingest_batch(Agent.objects.get(), msgspec.json.encode(body), now=END + td(days=1))
    rollup_pending(now=END + td(hours=1))
    for by in ("deployment", "node", "gpu", "label:team"):
        assert rows(by)["total"].requests == 14_400 + 7_200 + 7, by
