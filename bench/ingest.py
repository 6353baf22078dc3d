"""Ingest throughput: the real HTTP endpoint against a raw psycopg COPY.

What it measures
    1. End to end: N pre-built batches of GPU samples (default 100 x 1,000) are
       POSTed to /api/v1/ingest on a gunicorn server (sync workers, DEBUG off)
       backed by PostgreSQL, from C concurrent client threads, each with its own
       HTTP connection and `Authorization: Bearer <agent token>`. Every response
       must be a 200 that accepted the whole batch. samples/s = samples / wall time
       from the first request to the last response.
    2. Baseline, in the same run: the very same rows (same GPU ids, same values)
       are written with psycopg 3 `COPY ... FROM STDIN` + `write_row` into
       `bench_raw_gpusample`, a copy of `collectors_gpusample` with the same
       columns, checks, indexes (btree (gpu_id, ts) and BRIN (ts)) and foreign key,
       one COPY and one commit per batch, as an agent would commit each batch.
    It prints both rates and their ratio; the targets are HTTP >= 50% of COPY and
    HTTP >= 50,000 samples/s. Building and encoding the bodies, and building the
    COPY rows, happen before the clocks start. A few untimed warm-up batches
    (--warmup, default 2 per worker) go first through both paths, so both tables
    hold the same rows when timing starts; at the end the row counts of both
    tables are checked (warm-up + N x batch size; + N more with --gzip).

How to run
    make bench                           # = .venv/bin/python bench/ingest.py
    .venv/bin/python bench/ingest.py --clients 4 --workers 3
    .venv/bin/python bench/ingest.py --gzip      # also a run with gzip bodies
    .venv/bin/python bench/ingest.py --profile   # + cProfile of the ingest view
    .venv/bin/python bench/ingest.py --raw-connections 1   # one COPY stream
    make bench BENCH_ARGS="--batches 300 --clients 4"

It needs a PostgreSQL server it may create databases on. The bench database
(default postgresql://postgres@127.0.0.1:5432/inferscope_bench, or
--database-url) is dropped and created afresh, migrated with `manage.py migrate`,
and dropped at the end unless --keep-db. Its name must contain "bench".
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import os
import shutil
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import psycopg
from harness import (
    REPO_ROOT,
    checkpoint,
    child_env,
    count_rows,
    create_agent_token,
    database_arguments,
    database_name,
    drop_database,
    gunicorn,
    manage,
    recreate_database,
)
from psycopg import sql
from workload import COLUMN_TYPES, COLUMNS, Workload, build_workload

DEFAULT_DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/inferscope_bench"
INGEST_PATH = "/api/v1/ingest"
SAMPLE_TABLE = "collectors_gpusample"
RAW_TABLE = "bench_raw_gpusample"
TARGET_RATIO = 0.50
TARGET_RATE = 50_000

# ------------------------------------------------------------------------ database


def create_raw_table(url: str) -> None:
    """An identical copy of the sample table: LIKE copies columns, defaults, identity,
    checks and indexes (the BRIN one too); foreign keys are added here the same way."""
    with psycopg.connect(url) as conn:
        conn.execute(
            sql.SQL("CREATE TABLE {} (LIKE {} INCLUDING ALL)").format(
                sql.Identifier(RAW_TABLE), sql.Identifier(SAMPLE_TABLE)
            )
        )
        fks = conn.execute(
            "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint"
            " WHERE conrelid = %s::regclass AND contype = 'f'",
            (SAMPLE_TABLE,),
        ).fetchall()
        if not fks:
            raise SystemExit(f"{SAMPLE_TABLE} has no foreign key: unexpected schema")
        for name, definition in fks:
            conn.execute(
                sql.SQL("ALTER TABLE {} ADD CONSTRAINT {} {}").format(
                    sql.Identifier(RAW_TABLE),
                    sql.Identifier(f"{RAW_TABLE}_{name}"[:63]),
                    sql.SQL(definition),
                )
            )
        theirs = _indexes(conn, SAMPLE_TABLE)
        ours = _indexes(conn, RAW_TABLE)
        if theirs != ours:
            raise SystemExit(f"index mismatch: {SAMPLE_TABLE} {theirs} vs {RAW_TABLE} {ours}")


def _indexes(conn: psycopg.Connection[Any], table: str) -> list[str]:
    """Index definitions with the names taken out, to compare two tables."""
    rows = conn.execute(
        "SELECT regexp_replace(pg_get_indexdef(indexrelid), '^.* USING ', 'USING ')"
        " FROM pg_index WHERE indrelid = %s::regclass",
        (table,),
    ).fetchall()
    return sorted(r[0] for r in rows)


def gpu_ids(url: str) -> dict[str, int]:
    with psycopg.connect(url) as conn:
        return dict(conn.execute("SELECT uuid, id FROM collectors_gpu").fetchall())


# ---------------------------------------------------------------------------- runs


@dataclass
class HttpResult:
    seconds: float
    samples: int
    latencies: list[float] = field(default_factory=list)


def post_all(port: int, token: str, work: Workload, clients: int, compressed: bool) -> HttpResult:
    """POST every body from `clients` threads, each on its own connection; check each answer."""
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    if compressed:
        headers["Content-Encoding"] = "gzip"
    expected = [len(rows) for rows in work.rows]
    next_index = iter(range(len(work.bodies)))
    lock = threading.Lock()
    barrier = threading.Barrier(clients + 1)
    errors: list[str] = []
    latencies: list[float] = []
    accepted = [0] * clients

    def client(slot: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        mine: list[float] = []
        try:
            barrier.wait()
            while not errors:
                with lock:
                    i = next(next_index, None)
                if i is None:
                    break
                t0 = time.perf_counter()
                # gunicorn's sync workers close the connection after each response;
                # http.client then opens a new one for the next request.
                conn.request("POST", INGEST_PATH, body=work.bodies[i], headers=headers)
                resp = conn.getresponse()
                data = resp.read()
                mine.append(time.perf_counter() - t0)
                if resp.status != 200:
                    errors.append(f"batch {i}: HTTP {resp.status}: {data[:500]!r}")
                    break
                got = orjson.loads(data)
                if got["accepted"]["gpu_samples"] != expected[i] or got["duplicate"]:
                    errors.append(f"batch {i}: unexpected answer {got}")
                    break
                accepted[slot] += got["accepted"]["gpu_samples"]
        except Exception as exc:  # reported below, with the others
            errors.append(f"client {slot}: {exc!r}")
        finally:
            conn.close()
            with lock:
                latencies.extend(mine)

    threads = [threading.Thread(target=client, args=(n,), daemon=True) for n in range(clients)]
    for t in threads:
        t.start()
    barrier.wait()
    start = time.perf_counter()
    for t in threads:
        t.join()
    seconds = time.perf_counter() - start
    if errors:
        raise SystemExit("ingest failed:\n  " + "\n  ".join(errors[:10]))
    if sum(accepted) != work.samples:
        raise SystemExit(f"accepted {sum(accepted)} samples, expected {work.samples}")
    return HttpResult(seconds, work.samples, latencies)


def copy_rows(
    url: str,
    warm: list[list[tuple[Any, ...]]],
    batches: list[list[tuple[Any, ...]]],
    connections: int,
    binary: bool = False,
) -> float:
    """COPY each batch into the raw table and commit it; returns the wall time of
    `batches`. The `warm` ones go first, untimed, shared out among the connections."""
    statement = sql.SQL("COPY {} ({}) FROM STDIN{}").format(
        sql.Identifier(RAW_TABLE),
        sql.SQL(", ").join(map(sql.Identifier, COLUMNS)),
        sql.SQL(" (FORMAT BINARY)" if binary else ""),
    )
    conns = [psycopg.connect(url) for _ in range(connections)]
    next_index = iter(range(len(batches)))
    lock = threading.Lock()
    barrier = threading.Barrier(connections + 1)
    errors: list[str] = []

    def write(conn: psycopg.Connection[Any], rows: list[tuple[Any, ...]]) -> None:
        with conn.cursor() as cur, cur.copy(statement) as copy:
            if binary:
                copy.set_types(COLUMN_TYPES)
            for row in rows:
                copy.write_row(row)
        conn.commit()

    def writer(slot: int, conn: psycopg.Connection[Any]) -> None:
        try:
            for rows in warm[slot::connections]:
                write(conn, rows)
        except Exception as exc:
            errors.append(repr(exc))
        barrier.wait()
        try:
            while not errors:
                with lock:
                    i = next(next_index, None)
                if i is None:
                    return
                write(conn, batches[i])
        except Exception as exc:
            errors.append(repr(exc))

    threads = [
        threading.Thread(target=writer, args=(slot, c), daemon=True) for slot, c in enumerate(conns)
    ]
    try:
        for t in threads:
            t.start()
        checkpoint(url)  # after the warm-up, as before the HTTP run
        barrier.wait()
        start = time.perf_counter()
        for t in threads:
            t.join()
        seconds = time.perf_counter() - start
    finally:
        for c in conns:
            c.close()
    if errors:
        raise SystemExit("raw COPY failed: " + "; ".join(errors[:5]))
    return seconds


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else 0.0


def profile_view(env: dict[str, str], token: str, work: Workload, top: int) -> None:
    """Run the ingest view in this process under cProfile, through the whole Django
    stack (middleware, DRF, the ingest service), on the given batches."""
    import cProfile
    import pstats

    os.environ.update(env)
    sys.path.insert(0, str(REPO_ROOT))
    import django

    django.setup()
    from django.test import Client

    client = Client(HTTP_HOST="127.0.0.1", HTTP_AUTHORIZATION=f"Bearer {token}")

    def post(body: bytes) -> None:
        resp = client.post(INGEST_PATH, data=body, content_type="application/json")
        if resp.status_code != 200:
            raise SystemExit(f"profile: HTTP {resp.status_code}: {resp.content[:300]!r}")

    post(work.bodies[0])  # warm up: imports, connection, caches
    profiler = cProfile.Profile()
    start = time.perf_counter()
    profiler.enable()
    for body in work.bodies[1:]:
        post(body)
    profiler.disable()
    seconds = time.perf_counter() - start
    n = len(work.bodies) - 1
    print(
        f"\nprofile: {n} batches in-process (one thread, no HTTP) in {seconds:.3f} s"
        f" -> {n * len(work.rows[0]) / seconds:,.0f} samples/s, {1000 * seconds / n:.2f} ms/batch"
        " (with cProfile overhead)"
    )
    stats = pstats.Stats(profiler, stream=sys.stdout)
    stats.strip_dirs().sort_stats("cumulative").print_stats(top)
    stats.sort_stats("tottime").print_stats(top)


# ---------------------------------------------------------------------------- main


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("--batches", type=int, default=100, help="batches to post (default 100)")
    p.add_argument("--batch-size", type=int, default=1000, help="samples per batch (1000)")
    p.add_argument("--gpus", type=int, default=100, help="GPUs in the inventory (100)")
    p.add_argument("--clients", type=int, default=2, help="concurrent HTTP clients (2)")
    p.add_argument("--workers", type=int, default=2, help="gunicorn workers (2)")
    p.add_argument(
        "--raw-connections",
        type=int,
        default=None,
        help="concurrent COPY connections (default: as many as --clients, writer for writer)",
    )
    p.add_argument(
        "--raw-format",
        choices=("text", "binary"),
        default="binary",
        help="COPY format of the baseline: binary (as the ingest service uses) or text",
    )
    p.add_argument(
        "--warmup",
        type=int,
        default=None,
        help="untimed batches before timing starts (default: 2 per gunicorn worker)",
    )
    database_arguments(p, DEFAULT_DATABASE_URL)
    p.add_argument("--gzip", action="store_true", help="also post N gzip-compressed batches")
    p.add_argument(
        "--profile",
        type=int,
        nargs="?",
        const=20,
        default=0,
        metavar="BATCHES",
        help="then cProfile the ingest view in-process on this many extra batches (20)",
    )
    args = p.parse_args(argv)
    if args.raw_connections is None:
        args.raw_connections = args.clients
    for name in ("batches", "batch_size", "gpus", "clients", "workers", "raw_connections"):
        if getattr(args, name) < 1:
            p.error(f"--{name.replace('_', '-')} must be at least 1")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    url: str = args.database_url
    n, size = args.batches, args.batch_size
    gpus = min(args.gpus, size)
    warm_n = args.warmup if args.warmup is not None else 2 * args.workers

    # Every timestamp lies in the past (the server refuses more than 5 min ahead),
    # one second apart, distinct across every batch of the run.
    step = timedelta(seconds=-(-size // gpus))
    all_batches = warm_n + n * (1 + int(args.gzip)) + (args.profile + 1 if args.profile else 0)
    at = datetime.now(UTC).replace(microsecond=0) - all_batches * step - timedelta(minutes=10)

    def workload(count: int, tag: str, compress: bool = False) -> Workload:
        nonlocal at
        work = build_workload(count, size, gpus, at, tag, compress)
        at += count * step
        return work

    print(f"building {n} batches x {size} GPU samples ({gpus} GPUs) ...", flush=True)
    warm = workload(warm_n, "warm") if warm_n else None
    plain = workload(n, "plain")
    gz = workload(n, "gzip", compress=True) if args.gzip else None
    mb = plain.plain_bytes / 1e6
    print(f"  {mb:.1f} MB of JSON, {plain.plain_bytes / n / 1e3:.0f} kB per batch", flush=True)

    recreate_database(url)
    data_dir = Path(tempfile.mkdtemp(prefix="inferscope-bench-"))
    env = child_env(url, data_dir)
    try:
        manage(env, "migrate", "--noinput")
        token = create_agent_token(env)
        log = data_dir / "gunicorn.log"
        with gunicorn(env, args.workers, log) as port:
            if warm is not None:  # untimed: imports, connections and caches of each worker
                post_all(port, token, warm, args.clients, compressed=False)
            checkpoint(url)
            http_plain = post_all(port, token, plain, args.clients, compressed=False)
            http_gz = None
            if gz is not None:
                checkpoint(url)
                http_gz = post_all(port, token, gz, args.clients, compressed=True)

        # The same rows, with the ids the server gave the GPUs; built before timing.
        ids = gpu_ids(url)
        warm_rows = [[(ids[r[0]], *r[1:]) for r in rows] for rows in warm.rows] if warm else []
        raw_batches = [[(ids[r[0]], *r[1:]) for r in rows] for rows in plain.rows]
        create_raw_table(url)
        raw_seconds = copy_rows(
            url, warm_rows, raw_batches, args.raw_connections, args.raw_format == "binary"
        )

        stored = count_rows(url, SAMPLE_TABLE)
        raw_stored = count_rows(url, RAW_TABLE)
        warm_samples = warm.samples if warm else 0
        expected = warm_samples + plain.samples + (gz.samples if gz else 0)
        raw_expected = warm_samples + plain.samples
        if stored != expected or raw_stored != raw_expected:
            raise SystemExit(
                f"row count mismatch: {SAMPLE_TABLE}={stored} (expected {expected}),"
                f" {RAW_TABLE}={raw_stored} (expected {raw_expected})"
            )

        http_rate = plain.samples / http_plain.seconds
        raw_rate = plain.samples / raw_seconds
        ratio = http_rate / raw_rate
        lat = http_plain.latencies
        setup = f"gunicorn, {args.workers} workers, {args.clients} clients"
        head = f"ingest over HTTP ({setup}): {n} batches x {size} = {plain.samples} samples"
        conns = "1 connection" if args.raw_connections == 1 else f"{args.raw_connections} conns"
        fmt = "" if args.raw_format == "text" else ", binary"
        raw_label = f"raw psycopg COPY into identical table ({conns}{fmt})"
        width = max(len(head), len(raw_label))
        print()
        print(f"{head:{width}} in {http_plain.seconds:.3f} s -> {http_rate:,.0f} samples/s")
        print(
            f"  request latency p50 {1000 * percentile(lat, 0.5):.1f} ms,"
            f" p95 {1000 * percentile(lat, 0.95):.1f} ms, max {1000 * max(lat):.1f} ms"
        )
        if http_gz is not None and gz is not None:
            gz_rate = gz.samples / http_gz.seconds
            gz_mb = sum(map(len, gz.bodies)) / 1e6
            gz_head = f"ingest over HTTP, gzip bodies ({gz_mb:.1f} MB sent)"
            print(
                f"{gz_head:{width}} in {http_gz.seconds:.3f} s -> {gz_rate:,.0f} samples/s"
                f" (ratio to COPY {gz_rate / raw_rate:.2f})"
            )
        print(f"{raw_label:{width}} in {raw_seconds:.3f} s -> {raw_rate:,.0f} samples/s")
        ratio_ok = "PASS" if ratio >= TARGET_RATIO else "FAIL"
        rate_ok = "PASS" if http_rate >= TARGET_RATE else "FAIL"
        print(
            f"ratio HTTP/COPY: {ratio:.2f} (target >= {TARGET_RATIO:.2f}): {ratio_ok};"
            f" HTTP samples/s target >= {TARGET_RATE:,}: {rate_ok}"
        )
        print(
            f"rows: {SAMPLE_TABLE}={stored}, {RAW_TABLE}={raw_stored}"
            f" (as expected, {warm_samples} of them from untimed warm-up batches)"
        )

        if args.profile:
            extra = workload(args.profile + 1, "prof")
            profile_view(env, token, extra, top=35)
        return 0
    finally:
        if args.keep_db:
            print(f"kept database {database_name(url)!r}")
        else:
            with contextlib.suppress(psycopg.Error):
                drop_database(url)  # WITH (FORCE): also ends the profile's connection
        shutil.rmtree(data_dir, ignore_errors=True)


def _terminate(signum: int, frame: object) -> None:
    raise KeyboardInterrupt  # unwinds through the finally blocks: gunicorn stops, the DB goes


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, _terminate)
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit(130)
