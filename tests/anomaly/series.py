"""Constructed series for the detector tests: a busy-by-day, quiet-by-night GPU."""

from datetime import UTC, datetime, timedelta

import numpy as np

from anomaly.detectors import Point

START = datetime(2026, 1, 3, tzinfo=UTC)  # a Saturday


def gpu_util(days: int, step_minutes: int = 5, seed: int = 1) -> np.ndarray:
    """GPU utilisation %: 15 at night, about 80 mid-afternoon, quieter weekends, noise 2."""
    rng = np.random.default_rng(seed)
    minutes = np.arange(0, days * 1440, step_minutes)
    hour = (minutes % 1440) / 60
    distance = np.minimum(abs(hour - 15), 24 - abs(hour - 15))
    weekend = ((minutes // 1440 + 5) % 7) >= 5
    load = np.exp(-0.5 * (distance / 4.5) ** 2) * np.where(weekend, 0.6, 1.0)
    return 15 + 65 * load + rng.normal(0, 2, len(minutes))


def points(values: np.ndarray, step_minutes: int = 5) -> list[Point]:
    return [
        Point(START + timedelta(minutes=i * step_minutes), None if np.isnan(v) else float(v))
        for i, v in enumerate(values.tolist())
    ]


def at(day: float, step_minutes: int = 5) -> int:
    """Index of the point `day` days (fractions allowed) after START."""
    return int(round(day * 1440 / step_minutes))


def hourly_spend(hours: int, seed: int) -> np.ndarray:
    """$ per hour: autoscaled replicas follow the day, less at weekends, noise $0.40."""
    rng = np.random.default_rng(seed)
    h = np.arange(hours)
    weekend = ((h // 24 + 5) % 7) >= 5  # START is a Saturday
    daily = 6 * np.sin(2 * np.pi * (h % 24 - 9) / 24) * np.where(weekend, 0.6, 1.0)
    return 10 + daily + rng.normal(0, 0.4, hours)
