"""Anomaly scoring speed: one day of a 64-GPU fleet scored on PostgreSQL.

What it measures
    The same day bench/rollup.py builds (64 GPUs and 8 deployments at 10 s) is
    loaded and rolled up untimed. Then, timed, the scoring job scores the whole
    day: per-minute GPU utilization, power and temperature of every GPU and
    latency, throughput and error rate of every deployment (224 series x 1,440
    points), the hourly cost series, and the multivariate IsolationForest score
    of every GPU and deployment minute (models trained first, untimed), written
    as Anomaly rows. Target: under 10 s.

    Before the day, the seasonal baseline's stored hourly rows (`SeriesHour`)
    are seeded for the 28 days the profile reads (untimed; each series' hours
    of the day repeated), so the timed run also observes the day's 24 hours
    against a full window, as a live install does once a month old. Then one
    steady-state tick (one new minute, 6 hours of history, stored terms) and
    an idle tick (nothing new after the watermark) are timed.

How to run
    .venv/bin/python bench/anomaly_speed.py
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import database_arguments, django_on_new_database  # noqa: E402
from bench.rollup import DAY, load_day  # noqa: E402

DEFAULT_DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/inferscope_bench_anomaly"


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("--gpus", type=int, default=64)
    p.add_argument("--deployments", type=int, default=8)
    database_arguments(p, DEFAULT_DATABASE_URL)
    args = p.parse_args(argv)
    args.interval = 10
    with django_on_new_database(args.database_url, keep=args.keep_db):
        from datetime import timedelta

        from django.db import transaction

        from anomaly.models import Anomaly, ScoringWatermark
        from anomaly.scoring import FAMILIES, score_family
        from anomaly.training import train_models
        from costs.pipeline import rollup_pending

        with transaction.atomic():
            gpu_rows, inference_rows = load_day(args)
        rollup_pending(now=DAY + timedelta(days=1, hours=1))
        print(f"loaded and rolled up {gpu_rows:,} GPU and {inference_rows:,} inference samples")
        started = time.perf_counter()
        trained = train_models(now=DAY + timedelta(days=1))
        print(f"trained {trained} multivariate models in {time.perf_counter() - started:.2f} s")

        end = DAY + timedelta(days=1)
        seeded = seed_baseline(DAY, end)
        print(f"seeded {seeded:,} stored baseline rows (28 days before the day)")
        for family in FAMILIES:
            ScoringWatermark.objects.create(name=family.name, scored_until=DAY)
        ScoringWatermark.objects.create(name="baseline", scored_until=DAY)
        started = time.perf_counter()
        touched = sum(score_family(f, end + f.settle) for f in FAMILIES)
        first = time.perf_counter() - started
        print(
            f"scored one day: {first:.2f} s; {touched:,} anomalous points in"
            f" {Anomaly.objects.count():,} anomalies; target < 10 s:"
            f" {'met' if first < 10 else 'MISSED'}"
        )
        minute = FAMILIES[0]
        ScoringWatermark.objects.filter(name=minute.name).update(
            scored_until=end - timedelta(minutes=1)
        )
        started = time.perf_counter()
        score_family(minute, end + minute.settle)
        print(f"steady tick (one new minute): {time.perf_counter() - started:.3f} s")
        started = time.perf_counter()
        sum(score_family(f, end + f.settle) for f in FAMILIES)
        print(f"idle tick (nothing new): {time.perf_counter() - started:.3f} s")
        return 0


def seed_baseline(day: datetime, end: datetime) -> int:
    """Stored hourly rows for the 28 days before `day`: each series' observed hours of the day."""
    import numpy as np

    from anomaly.baselines import at_hour, hour_of
    from anomaly.detectors.arrays import to_arrays
    from anomaly.detectors.profile import HOUR, observe
    from anomaly.models import SeriesHour
    from anomaly.series import deployment_series, gpu_series

    rows = []
    first = hour_of(day)
    for (metric, entity), points in {**gpu_series(day, end), **deployment_series(day, end)}.items():
        ts, values = to_arrays(points)
        slot = np.floor(ts / HOUR).astype(np.int64) - first
        median, noise = observe(slot, values, 24)
        for back in range(1, 29):
            for h in range(24):
                if np.isfinite(median[h]):
                    rows.append(
                        SeriesHour(
                            metric=metric,
                            entity=entity,
                            hour=at_hour(first - back * 24 + h),
                            median=float(median[h]),
                            noise=float(noise[h]) if np.isfinite(noise[h]) else None,
                        )
                    )
    SeriesHour.objects.bulk_create(rows, batch_size=5000)
    return len(rows)


if __name__ == "__main__":
    raise SystemExit(main())
