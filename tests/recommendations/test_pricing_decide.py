"""Rule 9's decide steps alone (reserved per node, spot per deployment): plain inputs
in, a decision (or None) out, no database."""

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from collectors.models import Deployment, Node
from costs.spend import CostCell
from recommendations.context import Context
from recommendations.inputs.prices import GpuWindow
from recommendations.rules.pricing import NodeInputs, ReservedGpu, ReservedPrices
from recommendations.rules.spot import SpotGpu, SpotInputs, SpotPrices

CTX = Context(end=datetime(2026, 11, 23, tzinfo=UTC))
ON_DEMAND, RESERVED, SPOT = Decimal("2.50"), Decimal("1.90"), Decimal("0.95")


def window(pk: int, gpu_hours: float = 168.0, rate: Decimal = ON_DEMAND) -> GpuWindow:
    return GpuWindow(pk, f"gpu-node-1 #{pk} H100", 1, "gpu-node-1", "H100", gpu_hours, rate)


def steady(pk: int, gpu_hours: float = 168.0, busy: int = 168, seen: int = 168) -> ReservedGpu:
    """On the node all week and busy in every hour, unless told otherwise."""
    return ReservedGpu(window(pk, gpu_hours), RESERVED, busy, seen)


def node(*gpus: ReservedGpu, on_spot: frozenset[int] = frozenset()) -> NodeInputs:
    return NodeInputs(CTX, date(2026, 11, 23), gpus, on_spot, ())


def test_two_steady_gpus_save_their_gpu_hours_times_the_price_gap() -> None:
    d = ReservedPrices().decide(node(steady(1), steady(2)))
    assert d is not None
    # 336 GPU-hours x ($2.50 - $1.90) = $201.60 a week; x 30.4375 / 7 a month.
    assert (d.window_saving, d.monthly_usd) == (Decimal("201.60"), Decimal("876.60"))
    assert [g.pk for g in d.gpus] == [1, 2] and d.left_out == () and d.full
    assert len(d.groups) == 1 and d.groups[0].gpu_hours == Decimal(336)


def test_a_reserved_price_equal_to_the_rate_saves_nothing_and_one_cent_under_does() -> None:
    rule = ReservedPrices()
    at = ReservedGpu(window(1), ON_DEMAND, 168, 168)
    assert rule.decide(node(at)) is None
    assert rule.decide(node(replace(at, reserved=ON_DEMAND - Decimal("0.01")))) is not None


def test_present_exactly_the_present_share_of_the_window_counts_and_less_does_not() -> None:
    rule = ReservedPrices()
    assert rule.decide(node(steady(1, gpu_hours=159.6))) is not None  # 0.95 x 168
    assert rule.decide(node(steady(1, gpu_hours=159.5))) is None


def test_a_mig_slice_is_present_for_its_hours_not_its_gpu_hours() -> None:
    half = ReservedGpu(replace(window(1, gpu_hours=84.0), fraction=0.5), RESERVED, 168, 168)
    assert ReservedPrices().decide(node(half)) is not None


def test_exactly_min_util_hours_of_data_are_judged_and_fewer_are_left_out() -> None:
    rule = ReservedPrices()
    assert rule.decide(node(steady(1, busy=24, seen=24))) is not None
    d = rule.decide(node(steady(1), steady(2, busy=23, seen=23)))
    assert d is not None and [g.pk for g in d.gpus] == [1]
    assert [(g.window.pk, why) for g, why in d.left_out] == [(2, "data")]


def test_busy_in_exactly_half_its_hours_is_steady_and_one_hour_less_is_left_to_idle_gpus() -> None:
    rule = ReservedPrices()
    assert rule.decide(node(steady(1, busy=50, seen=100))) is not None
    idle = rule.decide(node(steady(1), steady(2, busy=49, seen=100)))
    assert idle is not None and [why for _, why in idle.left_out] == ["idle"]
    assert rule.decide(node(steady(2, busy=49, seen=100))) is None


def test_a_gpu_spot_moves_is_not_reserved() -> None:
    rule = ReservedPrices()
    d = rule.decide(node(steady(1), steady(2), on_spot=frozenset({2})))
    assert d is not None and [why for _, why in d.left_out] == ["spot"]
    assert rule.decide(node(steady(2), on_spot=frozenset({2}))) is None


def test_full_confidence_needs_nine_tenths_of_the_window_measured_on_every_gpu() -> None:
    rule = ReservedPrices()
    assert rule.decide(node(steady(1, busy=152, seen=152))).full  # type: ignore[union-attr]
    partial = rule.decide(node(steady(1), steady(2, busy=151, seen=151)))
    assert partial is not None and not partial.full


def test_gpus_at_two_prices_are_two_groups_of_the_saving() -> None:
    other = ReservedGpu(
        replace(window(2), model="A100", rate=Decimal("1.50")), Decimal("1.00"), 168, 168
    )
    d = ReservedPrices().decide(node(steady(1), other))
    assert d is not None and [g.model for g in d.groups] == ["H100", "A100"]
    # 168 x 0.60 + 168 x 0.50 = $184.80
    assert d.window_saving == Decimal("184.80")


def cells(hours: int) -> tuple[CostCell, ...]:
    """One $2.50 GPU-hour of the deployment on GPU 1 in each of the window's first `hours`."""
    zero = Decimal(0)
    return tuple(
        CostCell(CTX.start + timedelta(hours=h), 1, 1, ON_DEMAND, 1.0, zero, 0.0, zero, 1)
        for h in range(hours)
    )


DEP = Deployment(pk=1, name="batch-embed", node=Node(pk=1, name="gpu-node-1"))
INTERRUPTIBLE = SpotInputs(
    ctx=CTX,
    deployment=DEP,
    by_gpu={1: Decimal("420")},
    gpus={1: SpotGpu(window(1), SPOT, on_demand=True)},
    cells=cells(168),
)


def test_interruptible_work_on_spot_saves_its_cost_times_one_minus_the_price_ratio() -> None:
    d = SpotPrices().decide(INTERRUPTIBLE)
    assert d is not None
    # $420 x (1 - 0.95 / 2.50) = $260.40 a week; x 30.4375 / 7 a month.
    assert (d.cost, d.window_saving, d.monthly_usd) == (
        Decimal("420.00"),
        Decimal("260.40"),
        Decimal("1132.28"),
    )
    assert d.scale == {1: Decimal("0.38")} and d.hours == 168 and d.full


def test_exactly_min_hours_costed_are_judged_and_fewer_say_nothing() -> None:
    rule = SpotPrices()
    assert rule.decide(replace(INTERRUPTIBLE, cells=cells(24))) is not None
    assert rule.decide(replace(INTERRUPTIBLE, cells=cells(23))) is None


def test_full_confidence_needs_nine_tenths_of_the_window_costed() -> None:
    rule = SpotPrices()
    assert rule.decide(replace(INTERRUPTIBLE, cells=cells(152))).full  # type: ignore[union-attr]
    assert not rule.decide(replace(INTERRUPTIBLE, cells=cells(151))).full  # type: ignore[union-attr]


def test_a_spot_price_equal_to_the_rate_saves_nothing_and_one_cent_under_does() -> None:
    rule = SpotPrices()
    at = replace(INTERRUPTIBLE, gpus={1: SpotGpu(window(1), ON_DEMAND, on_demand=True)})
    assert rule.decide(at) is None
    under = SpotGpu(window(1), ON_DEMAND - Decimal("0.01"), on_demand=True)
    assert rule.decide(replace(INTERRUPTIBLE, gpus={1: under})) is not None


def test_one_gpu_not_on_demand_or_without_a_spot_price_or_a_rate_rules_out_the_move() -> None:
    rule = SpotPrices()
    two = replace(INTERRUPTIBLE, by_gpu={1: Decimal("210"), 2: Decimal("210")})
    assert rule.decide(replace(two, gpus={**two.gpus, 2: SpotGpu(window(2), SPOT, True)}))
    for gpu in (SpotGpu(window(2), SPOT, False), SpotGpu(window(2), None, True)):
        assert rule.decide(replace(two, gpus={**two.gpus, 2: gpu})) is None
    assert rule.decide(two) is None  # GPU 2 has no rate in the window


def test_work_that_cost_nothing_saves_nothing() -> None:
    assert SpotPrices().decide(replace(INTERRUPTIBLE, by_gpu={1: Decimal(0)})) is None
