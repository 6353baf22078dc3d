"""The stored seasonal baseline: the live path scores what detect_batch scores, cheaply."""

import math
import random
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from anomaly.baselines import MAX_CHUNKS_PER_RUN, load_slots, refresh_baselines
from anomaly.choices import AnomalyKind, AnomalyStatus
from anomaly.detectors.profile import SAME_HOUR_OF_WEEK
from anomaly.detectors.seasonal import SeasonalDetector
from anomaly.models import Anomaly, ScoringWatermark, SeriesHour
from anomaly.scoring import FAMILIES, score_family
from anomaly.series import gpu_series
from collectors.models import Gpu, Node
from telemetry.choices import Resolution
from telemetry.models import GpuRollup, InferenceRollup
from tests.builders.hours import gpu_minute

pytestmark = pytest.mark.django_db
NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)  # a Friday
MINUTE = FAMILIES[0]
COLUMNS = [f.name for f in SeriesHour._meta.fields if f.name != "id"]


def util(ts: datetime, rng: random.Random) -> float:
    hour = ts.hour + ts.minute / 60
    weekend = 0.7 if ts.weekday() >= 5 else 1.0
    return 20 + 50 * weekend * (1 + math.sin(2 * math.pi * (hour - 9) / 24)) / 2 + rng.gauss(0, 2)


def store(days: int, change: Callable[[datetime, float], float | None] | None = None) -> Gpu:
    """Minute utilization rollups of one GPU for `days` days up to NOW."""
    node = Node.objects.create(name="node-a")
    gpu = Gpu.objects.create(node=node, uuid="a0", index=0, model_name="NVIDIA H100 80GB HBM3")
    rng = random.Random(11)
    rows = []
    for minute in range(days * 1440):
        ts = NOW - timedelta(days=days) + timedelta(minutes=minute)
        value: float | None = util(ts, rng)
        if change is not None:
            value = change(ts, value)
        if value is None:
            continue
        rows.append(gpu_minute(gpu, ts, value))
    GpuRollup.objects.bulk_create(rows, batch_size=5000)
    return gpu


def catch_up(until: datetime) -> datetime:
    observed = refresh_baselines(until)
    while observed < until.replace(minute=0, second=0, microsecond=0):
        observed = refresh_baselines(until)
    return observed


def test_the_live_path_scores_exactly_what_detect_batch_scores() -> None:
    shift_from = NOW - timedelta(minutes=100)
    gpu = store(22, lambda ts, v: v + 30 if ts >= shift_from else v)
    catch_up(NOW)
    key = ("gpu.util", f"gpu:{gpu.pk}")
    since, start = NOW - MINUTE.history, NOW - timedelta(hours=3)
    slots, current = load_slots(since, NOW)
    assert key in current
    assert slots[key].source[-3] == SAME_HOUR_OF_WEEK  # three weeks of history: weekly profile
    points = gpu_series(since, NOW)[key]
    split = next(i for i, p in enumerate(points) if p.ts >= start)
    live = SeasonalDetector().detect_with(points[:split], points[split:], slots[key])

    everything = gpu_series(NOW - timedelta(days=22), NOW)[key]
    batch = SeasonalDetector().detect_batch(everything)[-len(live) :]
    assert [r.ts for r in live] == [r.ts for r in batch]
    for a, b in zip(live, batch, strict=True):
        assert (a.is_anomaly, a.kind) == (b.is_anomaly, b.kind), a.ts
        assert a.score == pytest.approx(b.score, rel=1e-9, abs=1e-9)
        assert a.expected_low == pytest.approx(b.expected_low, rel=1e-9)
        assert a.explanation == b.explanation
    flagged = [r for r in live if r.is_anomaly]
    assert flagged and flagged[0].ts >= shift_from
    assert {r.kind for r in flagged} <= {AnomalyKind.LEVEL_SHIFT, AnomalyKind.SPIKE}


def test_observing_again_writes_the_same_rows_and_old_hours_are_dropped() -> None:
    store(3)
    stale = SeriesHour.objects.create(
        metric="gpu.util", entity="gpu:999", hour=NOW - timedelta(days=40), median=1.0
    )
    catch_up(NOW)
    assert not SeriesHour.objects.filter(pk=stale.pk).exists()  # past the window: dropped
    rows = list(SeriesHour.objects.order_by("hour").values_list(*COLUMNS))
    # Three days of utilization: an hour per hour and the two written ahead.
    assert len(rows) == 3 * 24 + 2
    assert SeriesHour.objects.filter(hour__gte=NOW, median__isnull=True).count() == 2
    # Observed again from scratch (as after a lost watermark): the same rows.
    ScoringWatermark.objects.filter(name="baseline").delete()
    catch_up(NOW)
    assert list(SeriesHour.objects.order_by("hour").values_list(*COLUMNS)) == rows


def test_a_backlog_is_worked_off_over_several_runs_while_scoring_waits() -> None:
    store(MAX_CHUNKS_PER_RUN + 3)
    assert score_family(MINUTE, NOW + MINUTE.settle) == 0
    mark = ScoringWatermark.objects.get(name="baseline").scored_until
    assert mark == NOW - timedelta(days=3)
    assert not ScoringWatermark.objects.filter(name="minute").exists()
    score_family(MINUTE, NOW + MINUTE.settle)
    assert ScoringWatermark.objects.get(name="baseline").scored_until == NOW
    assert ScoringWatermark.objects.get(name="minute").scored_until == NOW
    assert SeriesHour.objects.filter(median__isnull=False).count() == (MAX_CHUNKS_PER_RUN + 3) * 24


def test_a_gpu_silent_for_longer_than_the_history_stays_missing_until_retired() -> None:
    silent_from = NOW - timedelta(hours=8)
    gpu = store(4, lambda ts, v: None if ts >= silent_from else v)
    score_family(MINUTE, NOW + MINUTE.settle)
    # Its node's only GPU: the node is what went silent.
    missing = Anomaly.objects.get(kind=AnomalyKind.MISSING)
    assert missing.metric == "node.presence" and missing.node_id == gpu.node_id
    assert missing.end == NOW - timedelta(minutes=1)
    assert "no data from its GPU for at least 420 points" in missing.explanation
    # A day later the GPU is taken as retired: no longer scored, so it resolves.
    for hours in range(1, 28):
        score_family(MINUTE, NOW + timedelta(hours=hours) + MINUTE.settle)
    missing.refresh_from_db()
    assert missing.status == AnomalyStatus.RESOLVED
    assert missing.end < silent_from + timedelta(hours=25)


def test_a_silent_node_is_one_anomaly_not_one_per_gpu_and_metric() -> None:
    from collectors.models import Deployment

    silent_from = NOW - timedelta(minutes=30)
    node = Node.objects.create(name="node-b")
    other = Node.objects.create(name="node-c")
    faulty = Node.objects.create(name="node-d")
    deployment = Deployment.objects.create(name="chat", node=node)
    rng = random.Random(5)
    rows, serving = [], []
    gpus = [
        Gpu.objects.create(node=n, uuid=f"g{i}", index=i)
        for i, n in enumerate((node, node, other, faulty))
    ]
    for minute in range(2 * 1440):
        ts = NOW - timedelta(days=2) + timedelta(minutes=minute)
        for gpu in gpus:
            # node-b's agent stops; on node-c the GPU reports utilization but no power.
            if gpu.node == node and ts >= silent_from:
                continue
            power = None if gpu.node == other and ts >= silent_from else 300.0
            # node-d's agent runs, but NVML stopped giving its GPU's utilization.
            util_n = 0 if gpu.node == faulty and ts >= silent_from else 6
            rows.append(
                GpuRollup(
                    gpu=gpu,
                    resolution=Resolution.MINUTE,
                    bucket=ts,
                    samples=6,
                    present_s=60,
                    util_sum=util(ts, rng) * util_n,
                    util_n=util_n,
                    power_sum=(power or 0) * 6 + rng.gauss(0, 6),
                    power_n=0 if power is None else 6,
                    temp_sum=(60 + rng.gauss(0, 1)) * 6,
                    temp_n=6,
                )
            )
        if ts < silent_from:
            serving.append(
                InferenceRollup(
                    deployment=deployment,
                    resolution=Resolution.MINUTE,
                    bucket=ts,
                    samples=6,
                    present_s=60,
                    requests_ok=60,
                    generation_tokens=round(6000 + rng.gauss(0, 200)),
                )
            )
    GpuRollup.objects.bulk_create(rows, batch_size=5000)
    InferenceRollup.objects.bulk_create(serving, batch_size=5000)
    score_family(MINUTE, NOW + MINUTE.settle)
    missing = Anomaly.objects.filter(kind=AnomalyKind.MISSING)
    node_level = missing.get(metric="node.presence")
    assert node_level.node_id == node.pk and node_level.gpu_id is None
    assert node_level.start == silent_from + timedelta(minutes=4)  # the fifth missing minute
    assert node_level.explanation == (
        "data from the agent of node node-b: no data from any of its 2 GPUs for 30 points"
        " in a row: is its agent running?"
    )
    # Neither the silent node's GPUs nor its deployment are reported on their own;
    # node-c's power gap while its utilization reports is its own news.
    assert list(
        missing.exclude(pk=node_level.pk).order_by("metric").values_list("metric", "gpu__node")
    ) == [
        ("gpu.power", other.pk),
        ("gpu.util", faulty.pk),
    ]
