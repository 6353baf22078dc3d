"""Rule 1 on a constructed week: one GPU idle, one busy, one idle but too new to judge."""

from datetime import timedelta
from decimal import Decimal

import pytest

from collectors.models import Gpu, Node
from costs.models import CostRecord, GpuRollup
from recommendations.choices import Confidence
from recommendations.rules.base import Context
from recommendations.rules.idle_gpus import IdleGpus
from tests.builders.hours import END, gpu_week

pytestmark = pytest.mark.django_db


@pytest.fixture
def gpus() -> dict[str, Gpu]:
    node = Node.objects.create(name="gpu-node-1")
    return {
        name: Gpu.objects.create(node=node, uuid=f"GPU-{name}", index=i, model_name="H100 SXM")
        for i, name in enumerate(["idle", "busy", "new"])
    }


def test_a_gpu_idle_all_week_is_released_for_its_cost(gpus):
    gpu_week(gpus["idle"], util=2.0)
    gpu_week(gpus["busy"], util=60.0)
    gpu_week(gpus["new"], util=1.0, hours=20)  # under a day of data: says nothing
    findings = IdleGpus().evaluate(Context(end=END))
    assert [f.gpu_id for f in findings] == [gpus["idle"].pk]
    finding = findings[0]
    # 168 hours x $2.50 = $420 in 7 days; x 30.4375 / 7 = $1,826.25 a month.
    assert finding.monthly_saving_usd == Decimal("1826.25")
    assert finding.arithmetic == "$420.00 over 7 days x 30.4375 / 7 = $1826.25 per month"
    assert finding.action == (
        "Release GPU gpu-node-1 #0 H100 SXM: it was under 5% busy in 168 of the 168 hours"
        " it reported over the last 7 days."
    )
    assert finding.confidence == Confidence.HIGH
    assert finding.key == "gpu:GPU-idle"
    chart = finding.evidence["chart"]
    assert chart["series"][0]["y"] == [2.0] * 168
    assert chart["x"][0] == "2026-11-16T00:00:00+00:00"
    assert chart["lines"] == [{"name": "5% idle threshold", "y": 5.0}]


def test_a_gpu_busy_a_third_of_the_time_is_not_idle(gpus):
    gpu_week(gpus["idle"], util=2.0)
    # A daily peak: 8 busy hours a day leaves 16 of 24 idle, 67% < 80%.
    GpuRollup.objects.filter(gpu=gpus["idle"], bucket__hour__lt=8).update(util_sum=50.0 * 360)
    assert IdleGpus().evaluate(Context(end=END)) == []


def test_a_healthy_fleet_gets_no_finding(gpus):
    for gpu in gpus.values():
        gpu_week(gpu, util=45.0)
    assert IdleGpus().evaluate(Context(end=END)) == []


def test_an_unpriced_idle_gpu_states_no_saving(gpus):
    gpu_week(gpus["idle"], util=0.0, usd="0")
    assert IdleGpus().evaluate(Context(end=END)) == []


def test_a_gpu_held_by_an_idle_server_says_to_stop_that_server(gpus):
    from collectors.models import Deployment

    held = Deployment.objects.create(node=gpus["idle"].node, name="summarize-7b")
    held.gpus.add(gpus["idle"])
    gpu_week(gpus["idle"], util=0.0)
    (finding,) = IdleGpus().evaluate(Context(end=END))
    assert finding.title == "Release idle GPU gpu-node-1 #0 H100 SXM held by summarize-7b"
    assert finding.action == (
        "Stop summarize-7b on gpu-node-1 and release GPU gpu-node-1 #0 H100 SXM: it held the"
        " GPU while it was under 5% busy in 168 of the 168 hours it reported over the last"
        " 7 days."
    )
    assert finding.evidence["held_by"] == ["summarize-7b"]
    assert finding.monthly_saving_usd == Decimal("1826.25")


def test_a_held_gpu_reports_what_its_server_was_charged_while_idle(gpus):
    from collectors.models import Deployment

    held = Deployment.objects.create(node=gpus["idle"].node, name="summarize-7b")
    held.gpus.add(gpus["idle"])
    gpu_week(gpus["idle"], util=1.0)
    # Attribution charged summarize-7b for the GPU in the last 100 hours: idle-held in
    # all but 10 minutes of each ($2.50 x 5/6 = $2.083333 an hour); the first 68 hours
    # the GPU was nobody's (truly idle).
    start = END - timedelta(hours=100)
    CostRecord.objects.filter(hour__gte=start).update(
        deployment=held, idle_held_usd=Decimal("2.083333"), idle_held_hours=5 / 6
    )
    (finding,) = IdleGpus().evaluate(Context(end=END))
    # 100 x $2.083333 = $208.3333 idle-held; 100 x $0.416667 = $41.6667 active;
    # 68 x $2.50 = $170.00 truly idle; $420.00 in all, the saving as before.
    assert finding.monthly_saving_usd == Decimal("1826.25")
    assert finding.action == (
        "Stop summarize-7b on gpu-node-1 and release GPU gpu-node-1 #0 H100 SXM: it held the"
        " GPU while it was under 5% busy in 168 of the 168 hours it reported over the last"
        " 7 days, and $208.33 of the GPU's $420.00 in that time was charged to summarize-7b"
        " while it ran no request."
    )
    assert finding.evidence["idle_held_usd"] == "208.333300"
    assert finding.evidence["active_usd"] == "41.666700"
    assert finding.evidence["truly_idle_usd"] == "170.000000"
    assert finding.evidence["idle_held_hours"] == pytest.approx(83.333, abs=1e-3)
