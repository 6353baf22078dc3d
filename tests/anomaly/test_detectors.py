import time
from datetime import timedelta

import numpy as np
import pytest

from anomaly.choices import AnomalyKind
from anomaly.detectors import DETECTORS, Detector, Point, Result, build
from anomaly.detectors.seasonal import SeasonalDetector
from anomaly.detectors.zscore import ZScoreDetector
from tests.anomaly.series import START, at, gpu_util, hourly_spend, points

DAYS = 9  # a full weekend of history before the anomalies on day 8 (a Sunday)


def flagged(results: list[Result], start: int, end: int) -> list[Result]:
    return [r for r in results[start:end] if r.is_anomaly]


def kinds(results: list[Result], start: int, end: int) -> set[str]:
    return {r.kind for r in flagged(results, start, end)}


@pytest.fixture(scope="module")
def clean() -> np.ndarray:
    return gpu_util(DAYS)


def test_it_flags_nothing_on_a_clean_seasonal_week_and_more(clean: np.ndarray) -> None:
    results = build({"name": "seasonal"}).detect_batch(points(clean))
    warm = [r for r in results if r.ts >= START + timedelta(days=1)]
    assert [r for r in warm if r.is_anomaly] == []
    assert all(r.expected_low is not None and r.expected_high is not None for r in warm)


def test_it_calls_a_short_jump_up_a_spike_and_down_a_dip(clean: np.ndarray) -> None:
    values = clean.copy()
    spike, dip = at(8.4), at(8.6)
    values[spike] += 40
    values[dip] -= 40
    results = build({"name": "seasonal"}).detect_batch(points(values))
    assert results[spike].is_anomaly and results[spike].kind == AnomalyKind.SPIKE
    assert results[dip].is_anomaly and results[dip].kind == AnomalyKind.DIP
    assert len(flagged(results, at(8), at(9))) == 2
    assert results[spike].explanation.startswith(f"value {results[spike].value:.3g}, expected ")
    assert results[spike].explanation.endswith("at this hour on weekends")


def test_it_calls_a_sustained_step_a_level_shift(clean: np.ndarray) -> None:
    values = clean.copy()
    start = at(8.3)
    values[start : at(8.6)] += 25
    results = build({"name": "seasonal"}).detect_batch(points(values))
    assert AnomalyKind.LEVEL_SHIFT in kinds(results, start, start + 12)
    assert flagged(results, at(8), start) == []
    shifted = next(r for r in results[start:] if r.kind == AnomalyKind.LEVEL_SHIFT)
    assert "level shifted up" in shifted.explanation


def test_it_calls_a_slow_climb_a_drift(clean: np.ndarray) -> None:
    values = clean.copy()
    # Windows are counted in points: at 5-minute steps "slow" means hours per sigma.
    start, end = at(8.05), at(8.95)
    values[start:end] += np.linspace(0, 20, end - start)
    results = build({"name": "seasonal"}).detect_batch(points(values))
    assert kinds(results, start, end) == {AnomalyKind.DRIFT}
    assert "drifting up" in flagged(results, start, end)[0].explanation


def test_it_calls_a_gpu_stuck_at_zero_while_normally_busy_stuck(clean: np.ndarray) -> None:
    values = clean.copy()
    start = at(8.5)
    values[start : start + 24] = 0.0
    results = build({"name": "seasonal"}).detect_batch(points(values))
    stuck = [r for r in results[start : start + 24] if r.kind == AnomalyKind.STUCK]
    # The 10th identical value in a row is the first that can be called stuck.
    assert stuck and stuck[0].ts == results[start + 9].ts
    assert stuck[0].explanation.startswith("value stuck at 0 for 10 points")


def test_it_reports_missing_values_once_the_gap_is_long_enough(clean: np.ndarray) -> None:
    values = clean.copy()
    start = at(8.5)
    values[start : start + 8] = np.nan
    results = build({"name": "seasonal"}).detect_batch(points(values))
    gap = results[start : start + 8]
    assert [r.is_anomaly for r in gap] == [False] * 4 + [True] * 4
    assert {r.kind for r in gap if r.is_anomaly} == {AnomalyKind.MISSING}
    assert gap[4].explanation.startswith("no data for 5 points in a row")


def test_it_reports_a_time_gap_as_missing(clean: np.ndarray) -> None:
    series = points(clean)
    cut = at(8.5)
    with_gap = series[:cut] + series[cut + 12 :]
    results = build({"name": "seasonal"}).detect_batch(with_gap)
    assert results[cut].kind == AnomalyKind.MISSING and results[cut].is_anomaly


def test_it_never_reads_ahead(clean: np.ndarray) -> None:
    values = clean.copy()
    values[at(8.3) : at(8.6)] += 25
    series = points(values)
    detector = build({"name": "seasonal"})
    whole = detector.detect_batch(series)
    for cut in (at(1) + 7, at(8.31) + 3, at(8.5)):
        assert detector.detect_batch(series[:cut]) == whole[:cut]
    assert detector.detect(series[: at(8.4)], series[at(8.4) :]) == whole[at(8.4) :]


def test_it_falls_back_to_the_rolling_z_score_and_says_so() -> None:
    values = gpu_util(1)[: at(0.9)]
    values[at(0.5)] += 50
    results = build({"name": "seasonal"}).detect_batch(points(values))
    spike = results[at(0.5)]
    assert spike.is_anomaly and spike.kind == AnomalyKind.SPIKE
    assert spike.explanation.endswith("(cold start: no history at this hour yet)")
    baseline = ZScoreDetector().detect_batch(points(values))[at(0.5)]
    assert spike == baseline._replace(explanation=spike.explanation)


def test_a_lower_sensitivity_flags_less_and_widens_the_band(clean: np.ndarray) -> None:
    values = clean.copy()
    values[at(8.4)] += 16
    normal = build({"name": "seasonal"}).detect_batch(points(values))[at(8.4)]
    calm = build({"name": "seasonal", "sensitivity": 0.5}).detect_batch(points(values))[at(8.4)]
    assert normal.is_anomaly and not calm.is_anomaly
    assert normal.score == calm.score
    assert calm.expected_high is not None and normal.expected_high is not None
    assert calm.expected_high > normal.expected_high


def test_the_z_score_baseline_flags_both_ways_and_ignores_missing_values() -> None:
    values = np.full(100, 10.0) + np.random.default_rng(3).normal(0, 1, 100)
    values[50], values[70], values[80] = 30, -10, np.nan
    results = build({"name": "zscore", "window": 30}).detect_batch(points(values))
    assert [(i, r.kind) for i, r in enumerate(results) if r.is_anomaly] == [
        (50, AnomalyKind.SPIKE),
        (70, AnomalyKind.DIP),
    ]
    assert results[80].value is None and results[80].score == 0.0


def test_it_scores_two_weeks_at_one_minute_in_under_a_second() -> None:
    series = points(gpu_util(14, step_minutes=1), step_minutes=1)
    detector = build({"name": "seasonal"})
    detector.detect_batch(series[:100])  # imports and first-call setup are not the point
    started = time.perf_counter()
    detector.detect_batch(series)
    assert time.perf_counter() - started < 1.0


def test_the_registry_knows_both_detectors_and_builds_them_from_config() -> None:
    assert {"seasonal", "zscore"} <= set(DETECTORS)
    detector = build({"name": "seasonal", "sensitivity": 0.8, "stuck_points": 20})
    assert isinstance(detector, SeasonalDetector) and isinstance(detector, Detector)
    assert detector.sensitivity == 0.8 and detector.config["stuck_points"] == 20


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"name": "prophet"}, "unknown detector 'prophet'"),
        ({}, "unknown detector None"),
        ({"name": "seasonal", "windw": 3}, "unknown seasonal config keys: windw"),
        ({"name": "zscore", "window": 1}, "window >= 2"),
        ({"name": "seasonal", "sensitivity": 0}, "sensitivity must be above 0"),
    ],
)
def test_the_factory_rejects_bad_config(config: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        build(config)


def test_it_rejects_points_out_of_time_order() -> None:
    a, b = Point(START, 1.0), Point(START + timedelta(minutes=1), 2.0)
    with pytest.raises(ValueError, match="time order"):
        build({"name": "seasonal"}).detect_batch([b, a])
    assert build({"name": "seasonal"}).detect_batch([]) == []


@pytest.mark.parametrize("kind", ["clean", "level_shift", "dip", "missing"])
def test_the_hourly_configuration_reads_spend_by_the_hour(kind: str) -> None:
    from anomaly.constants import HOURLY_SEASONAL

    hours = 35 * 24
    values = hourly_spend(hours, seed=4)
    if kind == "level_shift":
        values[-40:] += 5  # two more replicas that nobody scaled back
    elif kind == "dip":
        values[-30] *= 0.4
    elif kind == "missing":
        values[-30:-24] = np.nan
    series = [
        Point(START + timedelta(hours=i), None if np.isnan(v) else float(v))
        for i, v in enumerate(values.tolist())
    ]
    results = build({"name": "seasonal", **HOURLY_SEASONAL}).detect_batch(series)
    flagged = [r for r in results[8 * 24 :] if r.is_anomaly]  # after the first week
    if kind == "clean":
        assert flagged == []
        return
    assert flagged and all(r.ts >= START + timedelta(hours=hours - 40) for r in flagged)
    # A step's first hour is a spike; the hours after it tell it is a level shift.
    assert kind in {r.kind for r in flagged}
