"""Anomaly baseline at fleet scale: the hourly refresh and a scoring tick at 1,000 GPUs.

What it measures
    A fleet of --gpus H100s (8 per node) and --deployments deployments, with
    29 days of stored hourly baseline rows (`SeriesHour`: median and noise of
    each GPU's utilization, power and temperature and each deployment's four
    serving metrics; written untimed with COPY) and one hour of minute rollups.
    Timed:
      1. the hourly refresh (`refresh_baselines`): observe the hour from the
         minute rollups and compute every series' terms for the next hours;
      2. a raw baseline for it: the bare SELECT of the same 29-day window of
         rows, so the ratio shows what the maths adds to reading them;
      3. one scoring tick of the minute family (one new minute).

How to run
    .venv/bin/python bench/anomaly_baseline.py              # 1,000 GPUs, 100 deployments
    .venv/bin/python bench/anomaly_baseline.py --gpus 256
"""

from __future__ import annotations

import argparse
import io
import math
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import database_arguments, django_on_new_database  # noqa: E402

DEFAULT_DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/inferscope_bench_baseline"
HOUR = datetime(2026, 3, 2, 14, 0, tzinfo=UTC)  # the hour observed (a Monday)
GPU_METRICS = {"gpu.util": (55, 25), "gpu.power": (420, 150), "gpu.temperature": (62, 10)}
DEPLOYMENT_METRICS = {
    "deployment.ttft_p95": (0.4, 0.2),
    "deployment.e2e_p95": (6.0, 2.0),
    "deployment.tokens_per_s": (1500, 800),
    "deployment.error_rate": (0.002, 0.001),
}


def level(ts: datetime, mean: float, swing: float) -> float:
    return mean + swing * math.sin(2 * math.pi * (ts.hour - 9) / 24)


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("--gpus", type=int, default=1000)
    p.add_argument("--deployments", type=int, default=100)
    database_arguments(p, DEFAULT_DATABASE_URL)
    args = p.parse_args(argv)
    with django_on_new_database(args.database_url, keep=args.keep_db):
        from django.db import connection

        from anomaly.baselines import WINDOW, refresh_baselines
        from anomaly.models import ScoringWatermark, SeriesHour
        from anomaly.scoring import FAMILIES, score_family

        series = build_fleet(args)
        seeded = seed_rows(series)
        print(
            f"{args.gpus:,} GPUs, {args.deployments:,} deployments: {len(series):,} series,"
            f" {seeded:,} stored hourly rows, one hour of minute rollups"
        )
        ScoringWatermark.objects.create(name="baseline", scored_until=HOUR)
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")

        end = HOUR + timedelta(hours=1)
        started = time.perf_counter()
        list(
            SeriesHour.objects.filter(
                hour__gte=HOUR - WINDOW, hour__lt=end + timedelta(hours=2)
            ).values_list("metric", "entity", "hour", "median", "noise", "residual")
        )
        raw = time.perf_counter() - started
        started = time.perf_counter()
        observed = refresh_baselines(end)
        refresh = time.perf_counter() - started
        assert observed == end, observed
        print(f"hourly refresh (observe one hour, terms of every series): {refresh:.2f} s")
        print(f"raw baseline: bare SELECT of the window's rows: {raw:.2f} s")
        print(f"ratio refresh / raw SELECT: {refresh / raw:.1f}x")

        minute = FAMILIES[0]
        ScoringWatermark.objects.create(name=minute.name, scored_until=end - timedelta(minutes=1))
        started = time.perf_counter()
        score_family(minute, end + minute.settle)
        print(f"scoring tick (one new minute, stored terms): {time.perf_counter() - started:.2f} s")
        return 0


def build_fleet(args: argparse.Namespace) -> list[tuple[str, str, float, float]]:
    """Nodes, GPUs, deployments and one hour of their minute rollups; returns the series."""
    import random

    from collectors.models import Deployment, Gpu, Node
    from telemetry.choices import Resolution
    from telemetry.models import GpuRollup, InferenceRollup

    rng = random.Random(1)
    nodes = Node.objects.bulk_create(
        [Node(name=f"node-{n:04d}") for n in range((args.gpus + 7) // 8)]
    )
    gpus = Gpu.objects.bulk_create(
        [
            Gpu(node=nodes[i // 8], uuid=f"GPU-{i:05d}", index=i % 8, model_name="NVIDIA H100")
            for i in range(args.gpus)
        ]
    )
    deployments = Deployment.objects.bulk_create(
        [Deployment(node=nodes[d % len(nodes)], name=f"model-{d}") for d in range(args.deployments)]
    )
    series = [(m, f"gpu:{g.pk}", *v) for g in gpus for m, v in GPU_METRICS.items()]
    series += [
        (m, f"deployment:{d.pk}", *v) for d in deployments for m, v in DEPLOYMENT_METRICS.items()
    ]
    gpu_rows, serving_rows = [], []
    for minute in range(60):
        ts = HOUR + timedelta(minutes=minute)
        for gpu in gpus:
            util = level(ts, 55, 25) + rng.gauss(0, 2)
            gpu_rows.append(
                GpuRollup(
                    gpu=gpu,
                    resolution=Resolution.MINUTE,
                    bucket=ts,
                    samples=6,
                    present_s=60,
                    util_sum=util * 6,
                    util_n=6,
                    power_sum=(level(ts, 420, 150) + rng.gauss(0, 8)) * 6,
                    power_n=6,
                    temp_sum=(level(ts, 62, 10) + rng.gauss(0, 0.5)) * 6,
                    temp_n=6,
                )
            )
        for dep in deployments:
            tokens = level(ts, 1500, 800) + rng.gauss(0, 50)
            bounds = [0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0]
            hist = {"bounds": bounds, "counts": [10, 30, 40, 15, 4, 1, 0, 0], "sum": None}
            serving_rows.append(
                InferenceRollup(
                    deployment=dep,
                    resolution=Resolution.MINUTE,
                    bucket=ts,
                    samples=6,
                    present_s=60,
                    requests_ok=100,
                    generation_tokens=round(tokens * 60),
                    ttft_hist=hist,
                    e2e_hist=hist,
                )
            )
    GpuRollup.objects.bulk_create(gpu_rows, batch_size=5000)
    InferenceRollup.objects.bulk_create(serving_rows, batch_size=5000)
    return series


def seed_rows(series: list[tuple[str, str, float, float]]) -> int:
    """29 days of observed hourly rows per series, through COPY."""
    import random

    from django.db import connection

    from anomaly.baselines import WINDOW
    from anomaly.models import SeriesHour

    rng = random.Random(2)
    hours = [HOUR - timedelta(hours=h) for h in range(1, int(WINDOW / timedelta(hours=1)) + 1)]
    buffer = io.StringIO()
    for metric, entity, mean, swing in series:
        for ts in hours:
            median = level(ts, mean, swing) * (1 + rng.gauss(0, 0.02))
            buffer.write(f"{metric}\t{entity}\t{ts.isoformat()}\t{median}\t{abs(mean) * 0.01}\t0\n")
    buffer.seek(0)
    table = SeriesHour._meta.db_table
    columns = "metric, entity, hour, median, noise, source"
    with (
        connection.cursor() as cursor,
        cursor.connection.cursor() as raw,
        raw.copy(f"COPY {table} ({columns}) FROM STDIN") as copy,
    ):
        while chunk := buffer.read(1 << 20):
            copy.write(chunk)
    return len(series) * len(hours)


if __name__ == "__main__":
    raise SystemExit(main())
