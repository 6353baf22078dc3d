"""Seeding the bench databases for bench/pages.py: each UTC day generated, written
with COPY and committed in time order, as ingest would write it; the copy with twice
the raw data; and, just before timing, the newest day written again up to now.

Kept out of pages.py, which times the pages: none of this is timed.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import numpy as np
import psycopg
from psycopg import sql

from bench.harness import admin_conninfo, checkpoint, database_name
from bench.pages_copy import (
    COST_NAMES,
    GPU_ROLLUP_COLUMNS,
    GPU_SAMPLE_COLUMNS,
    INF_ROLLUP_NAMES,
    INF_SAMPLE_NAMES,
    Tally,
    binary_rows,
    copy_binary,
    copy_text,
    cost_lines,
    gpu_rollup_payload,
    inference_rollup_lines,
    inference_sample_lines,
    pg_micros,
)
from bench.pages_fleet import Fleet
from bench.pages_generate import (
    DAY_S,
    GPU_MAXES,
    HOUR_S,
    INF_MAXES,
    day_chunks,
    generate,
    gpu_minutes,
    group_starts,
    inference_minutes,
    regroup,
)


def seed_stretch(
    conn: psycopg.Connection[Any],
    fleet: Fleet,
    start: datetime,
    end: datetime,
    interval: int,
    seed: int,
    energy: np.ndarray,
    backwards: bool = False,
) -> Tally:
    """Raw samples, rollups and cost records of [start, end), one UTC day per transaction.

    Forwards, the energy counter goes on from `energy`; backwards (a stretch
    before existing data, written newest day first) it ends there instead.
    """
    tally = Tally()
    per_minute = 60 // interval
    chunks = day_chunks(start, end)
    order = list(reversed(list(enumerate(chunks)))) if backwards else list(enumerate(chunks))
    counter = energy.copy()
    gpu_names = "gpu_id, ts, " + ", ".join(name for name, _ in GPU_SAMPLE_COLUMNS)
    rollup_names = "gpu_id, resolution, bucket, " + ", ".join(n for n, _ in GPU_ROLLUP_COLUMNS)
    for index, (lo, hi) in order:
        started = time.perf_counter()
        rng = np.random.default_rng([seed, index])
        if backwards:
            # Generate with a zero start, then shift so the last sample lands on the counter.
            chunk = generate(fleet, lo, hi, interval, rng, np.zeros(len(fleet.gpu_ids)))
            shift = counter - chunk.gpu["energy_j"][:, -1]
            chunk.gpu["energy_j"] = chunk.gpu["energy_j"] + shift[:, None]
            counter = chunk.gpu["energy_j"][:, 0] - chunk.gpu["step"][:, 0]
        else:
            fleet.today = (lo, counter)
            chunk = generate(fleet, lo, hi, interval, rng, counter)
            counter = chunk.gpu["energy_j"][:, -1].copy()
        g_count, n = chunk.gpu["util_gpu"].shape
        sample_columns: list[tuple[str, np.ndarray]] = [
            ("i8", np.tile(fleet.gpu_ids, n)),
            ("ts", np.repeat(pg_micros(chunk.t), g_count)),
        ]
        sample_columns += [(kind, chunk.gpu[name].T.ravel()) for name, kind in GPU_SAMPLE_COLUMNS]
        samples = binary_rows(sample_columns)

        minute_buckets = chunk.t[::per_minute]
        g_min = gpu_minutes(chunk, per_minute, interval)
        i_min = inference_minutes(chunk, per_minute, interval)
        hour_buckets, hour_starts = group_starts(minute_buckets, HOUR_S)
        g_hour = regroup(g_min, hour_starts, GPU_MAXES)
        i_hour = regroup(i_min, hour_starts, INF_MAXES)
        day_buckets, day_starts = group_starts(hour_buckets, DAY_S)
        g_day = regroup(g_hour, day_starts, GPU_MAXES)
        i_day = regroup(i_hour, day_starts, INF_MAXES)
        for values, resolution in (
            (g_hour, HOUR_S),
            (g_day, DAY_S),
            (i_hour, HOUR_S),
            (i_day, DAY_S),
        ):
            values["present_s"] = np.minimum(values["present_s"], float(resolution))
        payloads = [
            gpu_rollup_payload(fleet, res, buckets, values)
            for res, buckets, values in (
                (60, minute_buckets, g_min),
                (HOUR_S, hour_buckets, g_hour),
                (DAY_S, day_buckets, g_day),
            )
        ]
        requests = i_hour["requests_ok"] + i_hour["requests_error"] + i_hour["requests_aborted"]
        tally.generate_s += time.perf_counter() - started

        copy_binary(conn, tally, "collectors_gpusample", gpu_names, samples, g_count * n)
        copy_text(
            conn,
            tally,
            "collectors_inferencesample",
            INF_SAMPLE_NAMES,
            inference_sample_lines(fleet, chunk, interval),
        )
        for payload, rows in payloads:
            copy_binary(conn, tally, "costs_gpurollup", rollup_names, payload, rows)
        for res, buckets, values in (
            (60, minute_buckets, i_min),
            (HOUR_S, hour_buckets, i_hour),
            (DAY_S, day_buckets, i_day),
        ):
            lines = inference_rollup_lines(fleet, res, buckets, values)
            copy_text(conn, tally, "costs_inferencerollup", INF_ROLLUP_NAMES, lines)
        lines = cost_lines(fleet, hour_buckets, g_hour, requests)
        copy_text(conn, tally, "costs_costrecord", COST_NAMES, lines)
        hourly_spend(conn, tally, datetime.fromtimestamp(lo, UTC), datetime.fromtimestamp(hi, UTC))
        started = time.perf_counter()
        conn.commit()
        tally.add("commit", 0, time.perf_counter() - started)
    return tally


def hourly_spend(
    conn: psycopg.Connection[Any], tally: Tally, start: datetime, end: datetime
) -> None:
    """The cost records' hourly sums per deployment, as attribution writes them beside the
    records (the statement of the migration that created the table)."""
    started = time.perf_counter()
    cursor = conn.execute(
        """
        INSERT INTO costs_hourlyspend
            (hour, deployment_id, usd, idle_held_usd, gpu_hours, idle_held_gpu_hours, energy_wh)
        SELECT hour, deployment_id, SUM(usd), SUM(idle_held_usd),
            SUM(gpu_hours), SUM(idle_held_hours), SUM(energy_wh)
        FROM costs_costrecord WHERE hour >= %s AND hour < %s
        GROUP BY hour, deployment_id
        """,
        [start, end],
    )
    tally.add("costs_hourlyspend", cursor.rowcount, time.perf_counter() - started)


def fast_seeding(conn: psycopg.Connection[Any]) -> None:
    # The foreign keys are deferred: checked row by row at COMMIT, they took a
    # quarter of the seeding. The rows are generated from the fleet's own ids.
    conn.execute("SET session_replication_role = replica")
    conn.execute("SET synchronous_commit = off")


def catch_up(
    url: str, fleet: Fleet, interval: int, today: tuple[int, np.ndarray], end: datetime
) -> Tally:
    """Write the newest day again, up to end, so the data ends at the pages' now.

    Seeding takes minutes; without this, GPUs would look offline and the newest
    minutes of every range empty.
    """
    lo, energy = today
    start = datetime.fromtimestamp(lo, UTC)
    with psycopg.connect(url) as conn:
        fast_seeding(conn)
        for table, column in (
            ("collectors_gpusample", "ts"),
            ("collectors_inferencesample", "ts"),
            ("costs_gpurollup", "bucket"),
            ("costs_inferencerollup", "bucket"),
            ("costs_costrecord", "hour"),
            ("costs_hourlyspend", "hour"),
        ):
            conn.execute(f"DELETE FROM {table} WHERE {column} >= %s", [start])
        return seed_stretch(conn, fleet, start, end, interval, 3, energy)


def clone_database(source: str, target: str) -> None:
    """target as a file copy of source (CREATE DATABASE ... TEMPLATE): no one may be connected."""
    name, copy = database_name(source), database_name(target)
    if "bench" not in copy:
        raise SystemExit(f"Refusing to drop and recreate {copy!r}: its name must contain 'bench'.")
    with psycopg.connect(admin_conninfo(source), autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(copy))
        )
        conn.execute(
            sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                sql.Identifier(copy), sql.Identifier(name)
            )
        )


def vacuum_analyze(url: str) -> float:
    # Steady state: autovacuum has set hint bits and the visibility map on old data,
    # so the first timed requests neither write hint bits nor race autovacuum.
    started = time.perf_counter()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("VACUUM (ANALYZE)")
    checkpoint(url)
    return time.perf_counter() - started


def catch_up_and_vacuum(urls: Sequence[str], fleet: Fleet, interval: int) -> datetime:
    """Both databases caught up to the same minute; returns it."""
    assert fleet.today is not None
    today = fleet.today
    end = datetime.now(UTC).replace(second=0, microsecond=0)
    for url in urls:
        started = time.perf_counter()
        tally = catch_up(url, fleet, interval, today, end)
        caught = time.perf_counter() - started
        vacuumed = vacuum_analyze(url)
        print(
            f"caught {database_name(url)} up to {end:%H:%M} UTC: the newest day written again"
            f" ({sum(tally.rows.values()):,} rows) in {caught:.1f} s,"
            f" VACUUM (ANALYZE) + CHECKPOINT {vacuumed:.1f} s"
        )
    return end
