"""Anomaly scoring speed: one day of a 64-GPU fleet scored on PostgreSQL.

What it measures
    The same day bench/rollup.py builds (64 GPUs and 8 deployments at 10 s) is
    loaded and rolled up untimed. Then, timed, the scoring job scores the whole
    day: per-minute GPU utilization, power and temperature of every GPU and
    latency, throughput and error rate of every deployment (224 series x 1,440
    points), the hourly cost series, and the multivariate IsolationForest score
    of every GPU and deployment minute (models trained first, untimed), written
    as Anomaly rows. Target: under 10 s. A second run (nothing new after the
    watermark) shows the cost of an idle tick.

How to run
    .venv/bin/python bench/anomaly_speed.py
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import REPO_ROOT, drop_database, manage, recreate_database  # noqa: E402
from bench.rollup import DAY, load_day  # noqa: E402

DEFAULT_DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/inferscope_bench_anomaly"


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("--gpus", type=int, default=64)
    p.add_argument("--deployments", type=int, default=8)
    p.add_argument("--database-url", default=DEFAULT_DATABASE_URL)
    p.add_argument("--keep-db", action="store_true")
    args = p.parse_args(argv)
    args.interval = 10
    recreate_database(args.database_url)
    try:
        manage({**os.environ, "DATABASE_URL": args.database_url}, "migrate", "--no-input")
        os.environ.update(
            DATABASE_URL=args.database_url, DJANGO_SETTINGS_MODULE="inferscope.settings"
        )
        os.chdir(REPO_ROOT)
        import django

        django.setup()
        from datetime import timedelta

        from django.db import transaction

        from anomaly.models import Anomaly, ScoringWatermark
        from anomaly.scoring import FAMILIES, score_family
        from anomaly.training import train_models
        from costs.rollups import rollup_pending

        with transaction.atomic():
            gpu_rows, inference_rows = load_day(args)
        rollup_pending(now=DAY + timedelta(days=1, hours=1))
        print(f"loaded and rolled up {gpu_rows:,} GPU and {inference_rows:,} inference samples")
        started = time.perf_counter()
        trained = train_models(now=DAY + timedelta(days=1))
        print(f"trained {trained} multivariate models in {time.perf_counter() - started:.2f} s")

        end = DAY + timedelta(days=1)
        for family in FAMILIES:
            ScoringWatermark.objects.create(name=family.name, scored_until=DAY)
        started = time.perf_counter()
        touched = sum(score_family(f, end + f.settle) for f in FAMILIES)
        first = time.perf_counter() - started
        print(
            f"scored one day: {first:.2f} s; {touched:,} anomalous points in"
            f" {Anomaly.objects.count():,} anomalies; target < 10 s:"
            f" {'met' if first < 10 else 'MISSED'}"
        )
        started = time.perf_counter()
        sum(score_family(f, end + f.settle) for f in FAMILIES)
        print(f"idle tick (nothing new): {time.perf_counter() - started:.3f} s")
        return 0
    finally:
        if not args.keep_db:
            from django.db import connections

            connections.close_all()
            drop_database(args.database_url)


if __name__ == "__main__":
    raise SystemExit(main())
