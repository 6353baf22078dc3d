"""The multivariate detector on rollups: trained per group, versioned, and catching
high power with low throughput that neither series shows on its own."""

import math
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from unittest.mock import patch

import numpy as np
import pytest
from django.db import connection
from django.db.models import DateTimeField, JSONField, Model
from pytest_django import DjangoDbBlocker

from anomaly.choices import AnomalyKind
from anomaly.detectors.isolation import MultivariateDetector
from anomaly.features import GPU_FEATURES, feature_rows
from anomaly.models import Anomaly, DetectorModel
from anomaly.multivariate import score_multivariate
from anomaly.tasks import train_models_task
from anomaly.training import train_group, train_models
from collectors.models import Deployment, Gpu, Node
from telemetry.choices import Resolution
from telemetry.models import GpuRollup, InferenceRollup

pytestmark = pytest.mark.django_db
# The shared fleet: two days of history before NOW, two hours after it, and
# GPU 1 drawing 690 W at ~12 tokens/s in minutes 20-34 after NOW.
HISTORY = timedelta(days=2)
AFTER = timedelta(hours=2)
FAULT = range(20, 35)
NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
GROUP = "gpu-model:H100 SXM"
GIB = 2**30
BOUNDS = [0.1, 0.25, 0.5, 1.0, 2.5]


def load(ts: datetime) -> float:
    """Daily traffic between 0.1 and 0.9, lowest at midnight UTC."""
    minute = ts.hour * 60 + ts.minute
    return 0.5 - 0.4 * math.cos(2 * math.pi * minute / 1440)


def insert(model: type[Model], rows: list[dict[str, Any]]) -> None:
    """Insert many rows in one executemany, skipping the ORM's per-value work
    (bulk_create spends seconds on the fixture's 12,000 rollups)."""
    by_name = {field.name: field for field in model._meta.concrete_fields}
    fields = [by_name[name] for name in rows[0]]
    columns = ", ".join(connection.ops.quote_name(field.column) for field in fields)
    marks = ", ".join(["%s"] * len(fields))
    adapt = [isinstance(field, JSONField | DateTimeField) for field in fields]
    params = [
        tuple(
            field.get_db_prep_save(value, connection) if needs else value
            for field, needs, value in zip(fields, adapt, row.values(), strict=True)
        )
        for row in rows
    ]
    with connection.cursor() as cursor:
        cursor.executemany(
            f"INSERT INTO {model._meta.db_table} ({columns}) VALUES ({marks})", params
        )


def store_fleet(
    start: datetime, end: datetime, faults: dict[int, range] | None = None, gpus: int = 2
) -> list[Gpu]:
    """Minute rollups in [start, end) of `gpus` H100s, each serving one deployment.

    Power, utilization, temperature and tokens/s all follow the same daily load.
    `faults` maps a GPU index to minutes after NOW during which it draws 690 W
    while its deployment generates about 12 tokens/s.
    """
    node = Node.objects.create(name="node-a")
    rng = np.random.default_rng(11)
    stored: list[Gpu] = []
    gpu_rows: list[dict[str, Any]] = []
    serving_rows: list[dict[str, Any]] = []
    for index in range(gpus):
        gpu = Gpu.objects.create(
            node=node,
            uuid=f"gpu-{index}",
            index=index,
            model_name="NVIDIA H100 80GB HBM3",
            memory_total_bytes=80 * GIB,
        )
        stored.append(gpu)
        deployment = Deployment.objects.create(node=node, name=f"chat-{index}")
        deployment.gpus.add(gpu)
        minutes = int((end - start) / timedelta(minutes=1))
        noise = rng.normal(size=(minutes, 5))
        bad = (faults or {}).get(index, range(0))
        for m in range(minutes):
            ts = start + timedelta(minutes=m)
            level = load(ts)
            util = 20 + 70 * level + 3 * noise[m, 0]
            power = 150 + 300 * level + 12 * noise[m, 1]
            temp = 45 + 25 * level + noise[m, 2]
            tokens = max(1400 * level + 40 * noise[m, 3], 0.0)
            if (ts - NOW) // timedelta(minutes=1) in bad:
                power, tokens = 690 + 5 * noise[m, 4], 12.0
            common = {"resolution": Resolution.MINUTE, "bucket": ts, "samples": 6, "present_s": 60}
            gpu_rows.append(
                {
                    "gpu": gpu.pk,
                    **common,
                    "util_sum": util * 6,
                    "util_n": 6,
                    "power_sum": power * 6,
                    "power_n": 6,
                    "energy_j": power * 60,
                    "temp_sum": temp * 6,
                    "temp_n": 6,
                    "mem_used_max": 70 * GIB,
                    "mem_total": 80 * GIB,
                    "throttled_s": 0.0,
                }
            )
            requests = max(round(tokens * 60 / 200), 1)
            counts = [requests // 2, requests // 4, requests // 8, 0, 0, 0]
            counts[3] = requests - sum(counts)
            hist = {"bounds": BOUNDS, "counts": counts, "sum": None}
            serving_rows.append(
                {
                    "deployment": deployment.pk,
                    **common,
                    "requests_ok": requests,
                    "requests_error": 0,
                    "requests_aborted": 0,
                    "prompt_tokens": round(tokens * 120),
                    "generation_tokens": round(tokens * 60),
                    "running_max": round(30 * level),
                    "waiting_max": 0.0,
                    "kv_cache_sum": level * 6,
                    "kv_cache_n": 6,
                    "prefix_cache_hits": 0,
                    "prefix_cache_queries": 0,
                    "preemptions": 0,
                    "ttft_hist": hist,
                    "e2e_hist": hist,
                }
            )
    insert(GpuRollup, gpu_rows)
    insert(InferenceRollup, serving_rows)
    return stored


@pytest.fixture(scope="module")
def fleet(django_db_setup: None, django_db_blocker: DjangoDbBlocker) -> Iterator[list[Gpu]]:
    """Stored and trained once for the module (rows are slow to insert); each test
    still runs in its own transaction on top and is rolled back."""
    with django_db_blocker.unblock():
        try:
            gpus = store_fleet(NOW - HISTORY, NOW + AFTER, faults={1: FAULT})
            assert train_models(NOW) == 3  # the GPU model and both deployments
            yield gpus
        finally:
            Node.objects.filter(name="node-a").delete()
            DetectorModel.objects.all().delete()


def test_features_join_a_gpu_with_the_throughput_of_its_deployment(fleet: list[Gpu]) -> None:
    _, faulty = fleet
    minute = NOW + timedelta(minutes=FAULT[0])
    rows = {(r.entity, r.ts): r.vector for r in feature_rows(minute, minute + timedelta(minutes=1))}
    vector = dict(zip(GPU_FEATURES, rows[(f"gpu:{faulty.pk}", minute)], strict=True))
    assert vector["power"] == pytest.approx(690, abs=20)
    assert vector["tokens_per_s"] == pytest.approx(12)
    assert vector["memory"] == pytest.approx(0.875)
    assert len(rows) == 4  # two GPUs and two deployments


def test_each_group_gets_a_model_with_its_features_and_window(fleet: list[Gpu]) -> None:
    model = DetectorModel.objects.get(group=GROUP)
    assert (model.version, model.features) == (1, list(GPU_FEATURES))
    assert (model.window_start, model.window_end) == (NOW - HISTORY, NOW)
    assert model.samples == 2 * int(HISTORY / timedelta(minutes=1))
    deployments = {f"deployment:{d.pk}" for d in Deployment.objects.all()}
    assert set(DetectorModel.objects.values_list("group", flat=True)) == {GROUP, *deployments}


def test_each_training_stores_the_next_version_and_keeps_three(fleet: list[Gpu]) -> None:
    rows = [r for r in feature_rows(NOW - HISTORY, NOW) if r.group == GROUP]
    retrained = train_group(GROUP, rows)
    assert retrained is not None and retrained.version == 2
    # A third version as a copy saves a fit: the next training makes the fourth.
    retrained.pk, retrained.version = None, 3
    retrained.save()
    train_group(GROUP, rows)
    versions = DetectorModel.objects.filter(group=GROUP).values_list("version", flat=True)
    assert sorted(versions) == [2, 3, 4]


def test_a_group_with_under_a_day_of_data_stays_in_cold_start(fleet: list[Gpu]) -> None:
    with patch("anomaly.training.timezone.now", return_value=NOW - HISTORY + timedelta(hours=20)):
        assert train_models_task() == "trained 0 multivariate models"
    assert DetectorModel.objects.count() == 3
    DetectorModel.objects.all().delete()
    assert score_multivariate(NOW, NOW + AFTER) == 0


def test_high_power_with_low_throughput_is_one_explained_anomaly_on_that_gpu(
    fleet: list[Gpu],
) -> None:
    _, faulty = fleet
    assert score_multivariate(NOW, NOW + timedelta(hours=1)) > 0
    anomaly = Anomaly.objects.get(metric="gpu.multivariate")
    assert anomaly.gpu_id == faulty.pk
    assert anomaly.kind == AnomalyKind.MULTIVARIATE
    assert anomaly.start == NOW + timedelta(minutes=FAULT[0])
    assert anomaly.end == NOW + timedelta(minutes=FAULT[-1])
    assert "power 6" in anomaly.explanation
    assert "generated tokens/s 12" in anomaly.explanation
    # Anything else flagged is the same fault seen from its deployment.
    others = Anomaly.objects.exclude(pk=anomaly.pk)
    assert {a.deployment_id for a in others} <= {faulty.deployments.get().pk}


def test_a_fault_across_two_scoring_windows_is_one_anomaly_from_its_first_minute(
    fleet: list[Gpu],
) -> None:
    split = NOW + timedelta(minutes=FAULT[0] + 3)  # too short a run to report yet
    assert score_multivariate(NOW, split) == 0
    assert score_multivariate(split, NOW + timedelta(hours=1)) > 0
    anomaly = Anomaly.objects.get(metric="gpu.multivariate")
    assert (anomaly.gpu_id, anomaly.start) == (fleet[1].pk, NOW + timedelta(minutes=FAULT[0]))
    assert anomaly.end == NOW + timedelta(minutes=FAULT[-1])


def test_normal_minutes_are_not_flagged(fleet: list[Gpu]) -> None:
    assert score_multivariate(NOW + timedelta(minutes=40), NOW + AFTER) == 0
    assert not Anomaly.objects.exists()


def test_a_detector_survives_its_artefact_and_scores_its_calibration_point_as_one() -> None:
    rng = np.random.default_rng(3)
    X = rng.normal(size=(2000, 3))
    detector = MultivariateDetector(trees=20).fit(X, ["a", "b", "c"])
    loaded = MultivariateDetector.from_bytes(detector.to_bytes(), sensitivity=2)
    scores = loaded.score(X)
    assert np.array_equal(scores, detector.score(X))
    assert np.quantile(scores, 0.995) == pytest.approx(1.0, abs=0.01)
    assert loaded.threshold == 0.5
    assert loaded.explain(np.array([0.0, 9.0, -4.0])).startswith("b 9.0 (usual ")
