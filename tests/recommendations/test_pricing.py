"""Rule 9 on a constructed week: steady on-demand GPUs get a reserved price, work marked
interruptible gets spot capacity, and nothing is said where the prices or data are missing."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from collectors.models import Deployment, DeploymentSettings, Gpu, Node
from costs.choices import NodePricingKind, PricingKind
from costs.models import CostRecord, NodePrice, PriceBookEntry
from recommendations.choices import Confidence
from recommendations.rules.base import Context
from recommendations.rules.pricing import Pricing
from tests.builders.hours import gpu_week

pytestmark = pytest.mark.django_db

END = datetime(2026, 11, 23, tzinfo=UTC)  # the window is the 7 days before
BOOK: dict[str, str] = {
    PricingKind.ON_DEMAND: "2.50",
    PricingKind.RESERVED: "1.90",
    PricingKind.SPOT: "0.95",
}


def week(
    gpu: Gpu,
    util: float | None = 60.0,
    hours: int = 7 * 24,
    usd: str = "2.50",
    deployment: Deployment | None = None,
) -> None:
    """`hours` hours up to END of one GPU, busy at `util` (None: no rollups)."""
    gpu_week(gpu, util, usd, deployment, hours, END, "price book: H100 SXM on_demand")


def book(prices: dict[str, str] | None = None, valid_from: date = date(2026, 1, 1)) -> None:
    for kind, usd in (prices or BOOK).items():
        PriceBookEntry.objects.create(
            gpu_model="H100 SXM",
            kind=kind,
            usd_per_gpu_hour=Decimal(usd),
            valid_from=valid_from,
            source="test",
        )


@pytest.fixture(autouse=True)
def empty_book() -> None:
    """The migrations load the default catalog; each test writes the prices it needs."""
    PriceBookEntry.objects.all().delete()


@pytest.fixture
def node() -> Node:
    return Node.objects.create(name="gpu-node-1")


@pytest.fixture
def gpus(node: Node) -> list[Gpu]:
    return [
        Gpu.objects.create(node=node, uuid=f"GPU-{i}", index=i, model_name="NVIDIA H100 80GB HBM3")
        for i in range(8)
    ]


@pytest.fixture
def batch(node: Node, gpus: list[Gpu]) -> Deployment:
    dep = Deployment.objects.create(node=node, name="batch-embed")
    dep.gpus.add(gpus[0])
    DeploymentSettings.objects.create(deployment=dep, interruptible=True)
    return dep


def evaluate() -> list:
    return Pricing().evaluate(Context(end=END))


def test_steady_on_demand_gpus_move_to_a_reserved_price(gpus):
    book()
    for gpu in gpus:
        week(gpu)
    [finding] = evaluate()
    # 8 GPUs x 168 h = 1344 GPU-hours x ($2.50 - $1.90) = $806.40 in 7 days;
    # x 30.4375 / 7 = $3,506.40 a month.
    assert finding.monthly_saving_usd == Decimal("3506.40")
    assert finding.arithmetic == (
        "1344 GPU-hours x ($2.50 - $1.90) = $806.40 over 7 days x 30.4375 / 7 = $3506.40 per month"
    )
    assert finding.action == (
        "Move gpu-node-1's 8 H100 SXM GPUs to a reserved/committed price ($1.90 instead of"
        " $2.50 per GPU-hour): they ran 168 of 168 hours in the last 7 days."
    )
    assert finding.key == f"reserved:node:{gpus[0].node_id}"
    assert finding.node_id == gpus[0].node_id
    assert finding.confidence == Confidence.HIGH
    chart = finding.evidence["chart"]
    assert chart["series"][0]["y"] == [8.0] * 168
    assert chart["lines"] == [{"name": "GPUs to reserve", "y": 8.0}]


def test_an_explicit_on_demand_node_price_counts_as_on_demand(node, gpus):
    book()
    NodePrice.objects.create(node=node, valid_from=date(2026, 1, 1), kind="on_demand")
    week(gpus[0])
    [finding] = evaluate()
    # 168 GPU-hours x $0.60 = $100.80 in 7 days; x 30.4375 / 7 = $438.30 a month.
    assert finding.monthly_saving_usd == Decimal("438.30")
    assert "1 H100 SXM GPU to a reserved/committed price" in finding.action
    assert ": it ran 168 of 168 hours" in finding.action


def test_a_mostly_idle_gpu_is_left_to_idle_gpus(gpus):
    book()
    week(gpus[0], util=60.0)
    week(gpus[1], util=2.0)
    [finding] = evaluate()
    assert finding.monthly_saving_usd == Decimal("438.30")  # only GPU 0, as above
    [note] = finding.evidence["left_out"]
    assert "busy in 0 of 168 hours" in note
    assert "idle_gpus" in note


def test_a_node_all_idle_gets_no_reserved_price(gpus):
    book()
    for gpu in gpus:
        week(gpu, util=1.0)
    assert evaluate() == []


def test_a_healthy_fleet_already_reserved_gets_no_finding(node, gpus):
    book()
    NodePrice.objects.create(node=node, valid_from=date(2026, 1, 1), kind=NodePricingKind.RESERVED)
    for gpu in gpus:
        week(gpu, usd="1.90")
    assert evaluate() == []


def test_gpus_present_part_of_the_week_are_not_committed(gpus):
    book()
    # 150 of 168 hours is 89%, under the 95% a commitment needs.
    week(gpus[0], hours=150)
    assert evaluate() == []


def test_missing_prices_or_data_say_nothing(gpus):
    for gpu in gpus:
        week(gpu)
    assert evaluate() == []  # an empty price book
    book({PricingKind.ON_DEMAND: "2.50"})
    assert evaluate() == []  # no reserved price
    book({PricingKind.RESERVED: "1.90"}, valid_from=date(2026, 11, 24))
    assert evaluate() == []  # a reserved price from after the window only


def test_no_utilization_data_or_no_cost_records_say_nothing(gpus):
    book()
    assert evaluate() == []
    week(gpus[0], util=None)
    assert evaluate() == []


def test_interruptible_work_on_demand_moves_to_spot(gpus, batch):
    book()
    week(gpus[0], deployment=batch)
    findings = evaluate()
    # Its GPU is steady too, but spot beats reserved: one finding, not two.
    assert [f.key for f in findings] == [f"spot:deployment:{batch.pk}"]
    finding = findings[0]
    # 168 h x $2.50 = $420.00; x (1 - 0.95 / 2.50) = $420.00 x 0.62 = $260.40 in 7 days;
    # x 30.4375 / 7 = $1,132.275, $1,132.28 a month.
    assert finding.monthly_saving_usd == Decimal("1132.28")
    assert finding.arithmetic == (
        "$420.00 x (1 - $0.95 / $2.50) = $260.40 over 7 days x 30.4375 / 7 = $1132.28 per month"
    )
    assert finding.action == (
        "Run batch-embed on spot capacity ($0.95 instead of $2.50 per GPU-hour): it is marked"
        " interruptible and cost $420.00 in the last 7 days."
    )
    assert finding.deployment_id == batch.pk
    assert finding.confidence == Confidence.HIGH
    series = {s["name"]: s["y"] for s in finding.evidence["chart"]["series"]}
    assert series["on-demand $"] == [2.5] * 168
    assert series["on spot $"] == [0.95] * 168


def test_work_not_marked_interruptible_stays_on_demand(gpus, batch):
    book()
    batch.settings.interruptible = False
    batch.settings.save()
    week(gpus[0], deployment=batch)
    assert [f.key for f in evaluate()] == [f"reserved:node:{gpus[0].node_id}"]


def test_spot_needs_a_spot_price_an_on_demand_node_and_a_day_of_data(node, gpus, batch):
    book({PricingKind.ON_DEMAND: "2.50"})
    week(gpus[0], util=1.0, deployment=batch)
    assert evaluate() == []  # no spot price
    book({PricingKind.SPOT: "0.95"}, valid_from=date(2026, 2, 1))
    NodePrice.objects.create(node=node, valid_from=date(2026, 1, 1), kind=NodePricingKind.SPOT)
    assert evaluate() == []  # already on spot
    NodePrice.objects.all().delete()
    CostRecord.objects.filter(hour__lt=END - timedelta(hours=20)).delete()
    assert evaluate() == []  # 20 hours of cost: too few to judge
