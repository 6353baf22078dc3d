"""The scoring job on rollups: anomalies written, merged, explained, idempotent, tunable."""

from datetime import datetime, timedelta

import pytest

from anomaly.choices import AnomalyKind, AnomalyStatus
from anomaly.models import Anomaly, DetectorTuning, ScoringWatermark
from anomaly.scoring import FAMILIES, score_family, score_recent
from anomaly.services import anomaly_set_status
from tests.anomaly.stored import NOW, hourly_spend_up_to_now, store_gpu

pytestmark = pytest.mark.django_db
MINUTE = FAMILIES[0]


def run(now: datetime = NOW) -> int:
    return score_family(MINUTE, now + MINUTE.settle)


def test_a_clean_seasonal_series_raises_nothing() -> None:
    store_gpu()
    run()
    assert Anomaly.objects.count() == 0


def test_a_spike_becomes_one_explained_anomaly_and_a_rerun_adds_nothing() -> None:
    gpu = store_gpu({20: 100.0, 19: 100.0, 18: 100.0})
    assert run() > 0
    anomaly = Anomaly.objects.get()
    assert anomaly.gpu_id == gpu.pk and anomaly.metric == "gpu.util"
    assert anomaly.kind in (AnomalyKind.SPIKE, AnomalyKind.LEVEL_SHIFT)
    assert anomaly.start == NOW - timedelta(minutes=20)
    assert anomaly.start <= anomaly.end <= NOW - timedelta(minutes=18)
    assert anomaly.observed == pytest.approx(100.0)
    assert anomaly.explanation.startswith("GPU utilization of GPU node-a #0 NVIDIA H100")
    assert anomaly.expected_high is not None and anomaly.expected_high < 100
    before = list(Anomaly.objects.values_list("start", "end", "score", "explanation"))
    assert run() == 0  # the watermark is past these points
    assert list(Anomaly.objects.values_list("start", "end", "score", "explanation")) == before


def test_an_agent_that_went_silent_is_missing_data() -> None:
    gpu = store_gpu({m: None for m in range(1, 31)})
    run()
    # The node's only GPU stopped: one anomaly, on the node, not one per GPU metric.
    missing = Anomaly.objects.get(kind=AnomalyKind.MISSING)
    assert missing.metric == "node.presence" and missing.node_id == gpu.node_id
    assert "no data from its GPU for 30 points" in missing.explanation


def test_a_false_positive_lowers_that_metrics_sensitivity(owner) -> None:
    store_gpu({20: 100.0})
    run()
    anomaly = Anomaly.objects.get()
    anomaly_set_status(anomaly, AnomalyStatus.FALSE_POSITIVE, owner)
    anomaly_set_status(anomaly, AnomalyStatus.FALSE_POSITIVE, owner)  # counted once
    tuning = DetectorTuning.objects.get(metric="gpu.util", entity=f"gpu:{anomaly.gpu_id}")
    assert tuning.sensitivity == pytest.approx(0.8)
    assert tuning.false_positives == 1
    anomaly.refresh_from_db()
    assert anomaly.status == AnomalyStatus.FALSE_POSITIVE
    assert anomaly.status_changed_by == owner


def test_an_anomaly_with_no_new_points_is_resolved_later() -> None:
    store_gpu({20: 100.0})
    run()
    run(NOW + timedelta(hours=1))
    spike = Anomaly.objects.get(metric="gpu.util", start=NOW - timedelta(minutes=20))
    assert spike.status == AnomalyStatus.RESOLVED
    # Meanwhile the GPU stopped reporting (the data ends at NOW): that is news.
    assert Anomaly.objects.filter(kind=AnomalyKind.MISSING, status=AnomalyStatus.OPEN).exists()


def test_score_recent_runs_every_family_on_an_empty_fleet() -> None:
    assert score_recent(NOW) == 0


@pytest.mark.parametrize("jump", [True, False])
def test_a_jump_in_the_fleets_hourly_spend_is_a_fleet_anomaly(jump: bool) -> None:
    hourly_spend_up_to_now(jump)
    hour_family = FAMILIES[1]
    score_family(hour_family, NOW + hour_family.settle)
    if not jump:  # two weeks of ordinary daily swings: nothing to report
        assert not Anomaly.objects.exists()
        return
    anomaly = Anomaly.objects.get(metric="fleet.cost_per_hour")
    assert anomaly.gpu_id is None and anomaly.deployment_id is None and anomaly.node_id is None
    assert anomaly.start == NOW - timedelta(hours=3)
    assert anomaly.explanation.startswith("total GPU spend per hour of the fleet: value 400")
    assert "at this hour" in anomaly.explanation
    assert anomaly.detector == "seasonal"


def test_a_sensitivity_typed_as_zero_does_not_stop_scoring() -> None:
    gpu = store_gpu({20: 100.0})
    DetectorTuning.objects.create(metric="gpu.util", entity=f"gpu:{gpu.pk}", sensitivity=0)
    DetectorTuning.objects.create(metric="gpu.power", entity=f"gpu:{gpu.pk}", sensitivity=-1)
    run()
    assert ScoringWatermark.objects.get(name="minute").scored_until == NOW


def test_minutes_whose_samples_are_not_rolled_up_yet_wait(owner) -> None:
    from collectors.models import SampleSpan

    store_gpu()
    SampleSpan.objects.create(start=NOW - timedelta(minutes=10), end=NOW)
    run()
    # Scored only up to the first minute that still has samples to roll up.
    assert ScoringWatermark.objects.get(name="minute").scored_until == NOW - timedelta(minutes=10)
    assert not Anomaly.objects.filter(kind=AnomalyKind.MISSING).exists()
