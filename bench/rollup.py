"""Rollup speed: one day of a 64-GPU fleet, rolled up and costed, on PostgreSQL.

What it measures
    A day of raw samples is loaded with COPY (untimed): 64 GPUs on 8 nodes at
    10 s (552,960 GpuSamples, with util, power, an energy counter, memory and
    throttle bits) and 8 deployments at 10 s (69,120 InferenceSamples with TTFT,
    ITL and end-to-end histograms and per-GPU memory), plus the SampleSpan
    outbox rows ingest would have written. Then, timed:
    1. `rollup_pending()`: 1-minute, 1-hour and 1-day rollups of both tables and
       the hour-by-hour cost attribution, all in one transaction, as the beat job
       runs it. Target: under 20 s.
    2. The same again over the whole day (a rerun): every bucket is recomputed
       and upserted, and the rows must come out identical.
    3. Baseline, in the same run: one bare `GROUP BY gpu_id, minute` over the
       raw GPU samples (avg/max util and power, count) into a temp table: the
       least any minute rollup of this table can cost.
    It prints each time, the rows written and the ratio of 1 to 3.

How to run
    .venv/bin/python bench/rollup.py
    .venv/bin/python bench/rollup.py --gpus 128 --interval 10

The bench database (default postgresql://postgres@127.0.0.1:5432/inferscope_bench_rollup,
or --database-url) is dropped and created afresh and dropped at the end unless --keep-db.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import checkpoint, database_arguments, django_on_new_database  # noqa: E402

DEFAULT_DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/inferscope_bench_rollup"
DAY = datetime(2026, 11, 2, tzinfo=UTC)
GIB = 2**30


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("--gpus", type=int, default=64, help="GPUs, 8 per node (64)")
    p.add_argument("--deployments", type=int, default=8, help="deployments (8)")
    p.add_argument("--interval", type=int, default=10, help="seconds between samples (10)")
    database_arguments(p, DEFAULT_DATABASE_URL)
    args = p.parse_args(argv)
    if args.gpus < 1 or args.deployments < 1 or args.deployments > args.gpus:
        p.error("need 1 <= --deployments <= --gpus")
    if not 1 <= args.interval <= 300:
        p.error("--interval must be 1-300 seconds")
    return args


def load_day(args: argparse.Namespace) -> tuple[int, int]:
    """Fleet rows through the ORM, samples through COPY; returns (gpu, inference) counts."""
    import psycopg
    from django.db import connection

    from collectors.models import Deployment, Gpu, Node, SampleSpan

    nodes = [Node.objects.create(name=f"node-{n:02d}") for n in range((args.gpus + 7) // 8)]
    gpus = [
        Gpu.objects.create(
            node=nodes[i // 8],
            uuid=f"GPU-{i:04d}",
            index=i % 8,
            model_name="NVIDIA H100 80GB HBM3",
            memory_total_bytes=80 * GIB,
        )
        for i in range(args.gpus)
    ]
    # Deployments take the GPUs in equal runs; each run stays on one node.
    per = args.gpus // args.deployments
    deployments = []
    for d in range(args.deployments):
        owned = gpus[d * per : (d + 1) * per]
        dep = Deployment.objects.create(
            node=owned[0].node, name=f"model-{d}", labels={"team": f"team-{d % 3}"}
        )
        dep.gpus.set(owned)
        deployments.append((dep.pk, [g.uuid for g in owned]))

    steps = 86_400 // args.interval
    hist_bounds = [0.05, 0.1, 0.25, 0.5, 1.0, 2.5]
    gpu_rows = 0
    inference_rows = 0
    raw = connection.connection
    assert isinstance(raw, psycopg.Connection)
    with (
        connection.cursor() as cursor,
        cursor.cursor.copy(
            "COPY collectors_gpusample (gpu_id, ts, util_gpu, power_w, energy_j, mem_used_bytes,"
            " mem_total_bytes, throttle_reasons, temp_c) FROM STDIN (FORMAT BINARY)"
        ) as copy,
    ):
        copy.set_types(
            [
                "bigint",
                "timestamptz",
                "float8",
                "float8",
                "float8",
                "bigint",
                "bigint",
                "bigint",
                "float8",
            ]
        )
        for gpu in gpus:
            energy = 1e9
            for step in range(steps):
                ts = DAY + timedelta(seconds=step * args.interval)
                # A daily cycle with a little deterministic noise, as a serving GPU shows.
                day_phase = 2 * math.pi * step * args.interval / 86_400
                util = round(55 + 35 * math.sin(day_phase) + (step * 7919 + gpu.pk * 13) % 9 - 4)
                power = 100.0 + 6.0 * util
                energy += power * args.interval
                copy.write_row(
                    (
                        gpu.pk,
                        ts,
                        float(util),
                        power,
                        energy,
                        70 * GIB,
                        80 * GIB,
                        4 if util > 95 else 0,
                        40.0 + util / 3,
                    )
                )
                gpu_rows += 1
    import json

    with (
        connection.cursor() as cursor,
        cursor.cursor.copy(
            "COPY collectors_inferencesample (deployment_id, ts, interval_s, requests_ok,"
            " requests_error, requests_aborted, prompt_tokens, generation_tokens, running, waiting,"
            " kv_cache_usage, ttft_hist, itl_hist, e2e_hist, gpu_memory) FROM STDIN"
        ) as copy,
    ):
        for dep_id, uuids in deployments:
            memory = json.dumps({u: 72 * GIB for u in uuids})
            for step in range(steps):
                ts = DAY + timedelta(seconds=step * args.interval)
                n = (step + dep_id) % 50
                hist = json.dumps(
                    {"bounds": hist_bounds, "counts": [n, n, 2, 1, 0, 0, 0], "sum": n * 0.2}
                )
                copy.write_row(
                    (
                        dep_id,
                        ts,
                        float(args.interval),
                        n,
                        0,
                        0,
                        n * 800,
                        n * 200,
                        8.0,
                        1.0,
                        0.6,
                        hist,
                        hist,
                        hist,
                        memory,
                    )
                )
                inference_rows += 1
    end = DAY + timedelta(seconds=(steps - 1) * args.interval)
    # Ingest writes one span per batch; a day of 10 s batches from 8 agents.
    SampleSpan.objects.bulk_create(
        SampleSpan(start=DAY + timedelta(seconds=s), end=DAY + timedelta(seconds=s + 10))
        for s in range(0, 86_400, 10)
        for _ in range(len(nodes))
    )
    SampleSpan.objects.create(start=DAY, end=end)
    return gpu_rows, inference_rows


def baseline() -> float:
    from django.db import connection

    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TEMP TABLE bench_minutes AS SELECT gpu_id, date_trunc('minute', ts) AS bucket,"
            " count(*) AS n, avg(util_gpu) AS util, max(util_gpu) AS util_max,"
            " avg(power_w) AS power, max(power_w) AS power_max"
            " FROM collectors_gpusample WHERE ts >= %s AND ts < %s GROUP BY 1, 2",
            [DAY, DAY + timedelta(days=1)],
        )
    return time.perf_counter() - started


def _digits(value: Any) -> Any:
    return float(f"{value:.12g}") if isinstance(value, float) else value


def snapshot() -> dict[str, list[tuple[Any, ...]]]:
    from costs.models import CostRecord
    from telemetry.models import GpuRollup, InferenceRollup

    def rows(model: Any) -> list[tuple[Any, ...]]:
        fields = [f.attname for f in model._meta.concrete_fields if f.attname != "id"]
        # PostgreSQL may sum floats in parallel, in any order: compare to 12 digits.
        return sorted(
            (tuple(_digits(v) for v in row) for row in model.objects.values_list(*fields)),
            key=repr,
        )

    return {m.__name__: rows(m) for m in (GpuRollup, InferenceRollup, CostRecord)}


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    with django_on_new_database(args.database_url, keep=args.keep_db):
        from django.db import transaction

        from collectors.models import SampleSpan
        from costs.pipeline import rollup_pending

        started = time.perf_counter()
        with transaction.atomic():
            gpu_rows, inference_rows = load_day(args)
        loaded = time.perf_counter() - started
        spans = SampleSpan.objects.count()
        checkpoint(args.database_url)
        from django.db import connection

        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
        print(
            f"loaded {gpu_rows:,} GPU samples ({args.gpus} GPUs), {inference_rows:,} inference"
            f" samples ({args.deployments} deployments), {spans:,} spans"
            f" in {loaded:.1f} s (untimed)"
        )
        now = DAY + timedelta(days=1, hours=1)
        started = time.perf_counter()
        hours = rollup_pending(now=now)
        first = time.perf_counter() - started
        rows = snapshot()
        counts = ", ".join(f"{len(v):,} {k}" for k, v in rows.items())
        print(f"rollup_pending: {first:.2f} s for {hours} hours -> {counts}")
        print(
            f"  {gpu_rows / first:,.0f} GPU samples/s;"
            f" target < 20 s: {'met' if first < 20 else 'MISSED'}"
        )

        SampleSpan.objects.create(start=DAY, end=DAY + timedelta(hours=23, minutes=59))
        started = time.perf_counter()
        rollup_pending(now=now)
        second = time.perf_counter() - started
        same = snapshot() == rows
        print(f"rerun over the whole day: {second:.2f} s; rows identical: {same}")

        raw = baseline()
        print(f"baseline bare GROUP BY minute over the GPU samples: {raw:.2f} s")
        print(f"ratio rollup_pending / baseline: {first / raw:.1f}x")
        return 0 if same else 1


if __name__ == "__main__":
    raise SystemExit(main())
