"""Rule 2's decide step alone (fewer replicas, or a cheaper GPU model): plain inputs in,
a decision (or None) out, no database."""

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from collectors.models import Deployment, Gpu, Node
from recommendations.context import Context
from recommendations.inputs.capacity import Capacity, PeerHour
from recommendations.inputs.replicas import Service
from recommendations.rules.cheaper_gpu import CheaperGpu, GpuFacts
from recommendations.rules.underused import Fewer, ServiceInputs, UnderusedDeployments
from telemetry.hourly import TrafficHour

CTX = Context(end=datetime(2026, 11, 23, tzinfo=UTC))
GIB = 2**30
NO_GPU_FACTS = GpuFacts(None, 0, None, None, {}, {})


def service(replicas: int, name: str = "chat-8b") -> Service:
    deps = [
        Deployment(pk=i, name=name, node=Node(pk=i, name=f"n{i}")) for i in range(1, replicas + 1)
    ]
    return Service(name, "llama-8b", {d.pk: d for d in deps}, deps, [], {})


def hours(count: int, tokens_per_s: float = 1000.0) -> dict[datetime, float]:
    return {CTX.start + timedelta(hours=h): tokens_per_s for h in range(count)}


def cap(per_replica: float, source: str = "profiling") -> Capacity:
    return Capacity(per_replica, source, "it carried that", {})


# Four replicas, $700 a week; one carries 1300 tokens/s, and the busiest hours need
# 1000: ceil(1000 x 1.3 / 1300) = 1 replica.
FOUR = ServiceInputs(CTX, service(4), hours(168), Decimal("700"), cap(1300.0), NO_GPU_FACTS)


def fewer(inputs: ServiceInputs) -> Fewer | None:
    d = UnderusedDeployments().decide(inputs)
    return d.option if d is not None and isinstance(d.option, Fewer) else None


def test_fewer_replicas_save_the_share_of_the_window_they_no_longer_run() -> None:
    f = fewer(FOUR)
    assert f is not None and f.needed == 1
    # $700 x (4 - 1) / 4 = $525 a week; x 30.4375 / 7 a month.
    assert (f.window_saving, f.monthly_usd) == (Decimal("525"), Decimal("2282.81"))
    assert f.full


def test_demand_exactly_filling_the_replicas_left_with_headroom_fits_and_more_does_not() -> None:
    two = replace(FOUR, service=service(2))
    assert fewer(two) is not None  # 1000 x 1.3 = 1300: exactly one replica
    assert UnderusedDeployments().decide(replace(two, hourly=hours(168, 1000.1))) is None


def test_exactly_min_hours_of_traffic_are_judged_and_fewer_say_nothing() -> None:
    rule = UnderusedDeployments()
    assert rule.decide(replace(FOUR, hourly=hours(24))) is not None
    assert rule.decide(replace(FOUR, hourly=hours(23))) is None


def test_an_unpriced_service_states_no_saving() -> None:
    assert UnderusedDeployments().decide(replace(FOUR, window_usd=Decimal(0))) is None


def test_one_replica_or_no_known_capacity_has_none_to_drop() -> None:
    rule = UnderusedDeployments()
    assert rule.decide(replace(FOUR, service=service(1))) is None
    assert rule.decide(replace(FOUR, cap=None)) is None


def test_full_needs_traffic_in_nine_tenths_of_the_window() -> None:
    assert fewer(replace(FOUR, hourly=hours(152))).full  # type: ignore[union-attr]
    assert not fewer(replace(FOUR, hourly=hours(151))).full  # type: ignore[union-attr]


def peer_hour(memory_gib: float | None) -> PeerHour:
    memory = None if memory_gib is None else int(memory_gib * GIB)
    row = TrafficHour(deployment_id=9, bucket=CTX.start)
    return PeerHour(
        1300.0,
        40.0,
        row,
        service(1, "peer"),
        [Gpu(node=Node(name="p1"), memory_total_bytes=memory)],
    )


def on_l40s(price: str = "1.00", memory_gib: float | None = 48.0) -> ServiceInputs:
    """FOUR on H100s at $2.50 a GPU-hour, peaking at 30 GiB; a peer carried 1300 tokens/s
    on one L40S that the book prices at `price`."""
    facts = GpuFacts(
        now="H100",
        gpus_now=4,
        rate_now=Decimal("2.50"),
        peak_bytes=30 * GIB,
        peers={"L40S": peer_hour(memory_gib)},
        book={"L40S": Decimal(price)},
    )
    return replace(FOUR, cap=None, gpus=facts)


def cheaper(inputs: ServiceInputs) -> CheaperGpu | None:
    d = UnderusedDeployments().decide(inputs)
    return d.option if d is not None and isinstance(d.option, CheaperGpu) else None


def test_a_cheaper_gpu_a_peer_showed_carries_it_saves_the_difference_of_the_months() -> None:
    c = cheaper(on_l40s())
    assert c is not None and c.needed == 1
    # Now $700 x 30.4375 / 7 = $3043.75; then 1 x $1.00 x 730.5 h = $730.50.
    assert (c.monthly_now, c.monthly_then, c.saving) == (
        Decimal("3043.75"),
        Decimal("730.50"),
        Decimal("2313.25"),
    )


def test_a_book_price_equal_to_the_rate_now_is_no_cheaper_and_a_cent_under_is() -> None:
    assert UnderusedDeployments().decide(on_l40s("2.50")) is None
    assert cheaper(on_l40s("2.49")) is not None


def test_memory_exactly_the_peak_fits_and_less_or_unknown_does_not() -> None:
    rule = UnderusedDeployments()
    assert cheaper(on_l40s(memory_gib=30.0)) is not None
    assert rule.decide(on_l40s(memory_gib=30.0 - 1 / GIB)) is None
    assert rule.decide(on_l40s(memory_gib=None)) is None


def test_replicas_on_mixed_or_unknown_gpus_have_no_cheaper_model() -> None:
    inputs = on_l40s()
    assert cheaper(inputs) is not None
    assert (
        UnderusedDeployments().decide(replace(inputs, gpus=replace(inputs.gpus, now=None))) is None
    )


def test_the_option_that_saves_more_is_the_finding_and_the_other_its_evidence() -> None:
    rule = UnderusedDeployments()
    both = replace(on_l40s(), cap=cap(1300.0))
    d = rule.decide(both)
    # Cheaper GPU saves $2313.25, fewer replicas $2282.81: the move wins.
    assert d is not None and isinstance(d.option, CheaperGpu) and isinstance(d.other, Fewer)
    # At $1.0417 an L40S month is $760.96: saving $2282.79, less than fewer's.
    d = rule.decide(replace(both, gpus=replace(both.gpus, book={"L40S": Decimal("1.0417")})))
    assert d is not None and isinstance(d.option, Fewer) and isinstance(d.other, CheaperGpu)
