"""Dashboard page speed: every page over 30 days of a 64-GPU fleet, then with twice the raw data.

What it measures
    A fleet is seeded untimed into a throw-away PostgreSQL database: 64 GPUs on
    8 nodes (8 per node) and 8 vLLM deployments, one per node on 6 of its GPUs
    (the other 2 stay idle, so idle cost exists). 30 days of raw samples at 10 s
    end at the current minute: GPU samples with a daily and weekly load pattern
    plus noise, and inference samples with vLLM's TTFT, ITL, end-to-end and
    queue histograms. The 1-minute, 1-hour and 1-day rollups and the hourly cost
    records ($2.50 per GPU-hour, a custom node price) are computed here in numpy
    from the same arrays and written directly, consistent with the raw data;
    the project's rollup job is not run (over 30 days it would take too long).
    Everything goes in with COPY (fixed-width tables in binary format built as
    numpy records), one UTC day at a time in time order, as ingest would write
    it. A dozen anomalies are spread over the month, then VACUUM (ANALYZE).
    Seeding takes minutes, so just before each timing the newest day is
    written again up to the current minute: the data ends at the pages' now.

    Then, against gunicorn (sync workers, DEBUG off) and a logged-in session,
    each dashboard page is requested with ?range=30d: untimed warm-ups that
    reach every worker, then --requests timed requests per page, one at a time,
    going round the pages. gunicorn serves a copy of the working tree taken at
    the start, so every timing runs the same code while others edit the
    project. It prints p50, p95 (nearest rank) and max in ms and the response
    size. "Server time" is the wall time of each request on loopback, from
    sending the request to the last byte of the body (time.perf_counter in the
    client): it includes the TCP connect, as gunicorn's sync workers close
    every connection, and the client's parsing, both well under a millisecond
    here. A page that does not answer 200 (one not written yet) shows its
    status instead of timings; the run goes on.

    Twice the retained raw data is a second database: a file copy of the
    first (CREATE DATABASE ... TEMPLATE) into which as long a stretch again of
    raw GPU and inference samples is written *before* the first (older
    timestamps), with its rollups and cost records, as an install keeps
    rollups at least as long as raw samples. Both databases are served at once
    (a gunicorn each) and timed together, request by request in turn: timed one
    after the other on a shared machine, even pages that read no samples moved
    by 20-40% between the two timings. It prints a table per database and each
    page's p95 ratio, doubled / single.
    Targets: p95 <= 150 ms for every page at the 30-day range, and doubling the
    raw data changes no page's p95 by more than 10%.

    The first stretch starts at the UTC midnight before now - --days, so the
    30-day range is covered whole and no rollup bucket straddles the two
    stretches; with the default 30 days the older stretch lies wholly outside
    the timed range (with --quick it does not: a smoke run, not a measurement).
    Each GPU sample covers --interval seconds and its energy is the counter's
    step, power x interval; the counter runs on unbroken from one stretch to
    the other, so `costs.pipeline.roll_hours` over any seeded hour but the very
    first rewrites the same rows.

How to run
    .venv/bin/python bench/pages.py --quick      # 2 days of 16 GPUs: a smoke run
    .venv/bin/python bench/pages.py              # 30 days of 64 GPUs: 10-20 minutes
    .venv/bin/python bench/pages.py --requests 50 --workers 4 --keep-db

The bench database (default postgresql://postgres@127.0.0.1:5432/inferscope_bench_pages,
or --database-url) and its copy (the same name + "_doubled") are dropped and
created afresh, and dropped at the end unless --keep-db. The name must contain
"bench". A full run writes about 17M GPU samples per stretch: about 15 GB of
disk for both databases.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import (  # noqa: E402
    REPO_ROOT,
    child_env,
    count_rows,
    database_name,
    drop_database,
    gunicorn,
    manage,
    recreate_database,
)
from bench.pages_copy import Tally  # noqa: E402
from bench.pages_fleet import (  # noqa: E402
    GPUS_PER_NODE,
    Fleet,
    create_anomalies,
    create_fleet,
)
from bench.pages_http import RANGE, PageTiming, time_pages  # noqa: E402
from bench.pages_seed import (  # noqa: E402
    catch_up_and_vacuum,
    clone_database,
    fast_seeding,
    seed_stretch,
    vacuum_analyze,
)

DEFAULT_DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/inferscope_bench_pages"
TARGET_P95_MS = 150.0
TARGET_CHANGE = 0.10

TABLES = (
    "collectors_gpusample",
    "collectors_inferencesample",
    "costs_gpurollup",
    "costs_inferencerollup",
    "costs_costrecord",
    "costs_hourlyspend",
    "anomaly_anomaly",
)


# ------------------------------------------------------------------------ arguments


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("--gpus", type=int, default=None, help="GPUs, 8 per node (64; --quick 16)")
    p.add_argument("--deployments", type=int, default=None, help="one per node (8; --quick 2)")
    p.add_argument("--days", type=int, default=None, help="days of raw samples (30; --quick 2)")
    p.add_argument("--interval", type=int, default=10, help="seconds between samples (10)")
    p.add_argument("--requests", type=int, default=20, help="timed requests per page (20)")
    p.add_argument("--workers", type=int, default=2, help="gunicorn workers (2)")
    p.add_argument("--database-url", default=DEFAULT_DATABASE_URL, help="bench database")
    p.add_argument("--keep-db", action="store_true", help="leave the bench databases behind")
    p.add_argument("--quick", action="store_true", help="2 days of 16 GPUs, for a smoke run")
    args = p.parse_args(argv)
    quick = {"gpus": 16, "deployments": 2, "days": 2}
    full = {"gpus": 64, "deployments": 8, "days": 30}
    for name, value in (quick if args.quick else full).items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    nodes = math.ceil(args.gpus / GPUS_PER_NODE)
    if args.gpus < 1 or not 1 <= args.deployments <= nodes:
        p.error(f"need --gpus >= 1 and 1 <= --deployments <= nodes ({nodes})")
    if args.days < 1:
        p.error("--days must be at least 1")
    if args.interval < 1 or 60 % args.interval:
        p.error("--interval must divide 60 (minute rollups are built from whole minutes)")
    if args.requests < 1 or args.workers < 1:
        p.error("--requests and --workers must be at least 1")
    return args


def pages(fleet: Fleet) -> list[str]:
    return [
        "/",
        "/nodes/",
        f"/gpus/{fleet.first_gpu}/",
        "/deployments/",
        f"/deployments/{fleet.first_deployment}/",
        "/costs/",
        "/anomalies/",
        f"/anomalies/{fleet.anomaly_id}/",
        "/alerts/",
        "/settings/",
    ]


def measure(
    envs: Sequence[dict[str, str]],
    src: Path,
    args: argparse.Namespace,
    paths: Sequence[str],
    logs: Path,
    newest: datetime,
) -> list[list[PageTiming]]:
    with contextlib.ExitStack() as stack:
        ports = [
            stack.enter_context(gunicorn(env, args.workers, logs / f"gunicorn-{i}.log", src))
            for i, env in enumerate(envs)
        ]
        lag = datetime.now(UTC) - newest
        # Taken with the servers idle: anything else busy on the machine shows here.
        load = os.getloadavg()[0]
        timings = time_pages(ports, paths, args.requests, args.workers)
    print(
        f"\ntimed {lag.total_seconds() / 60:.1f} min after the newest sample; load average"
        f" {load:.2f} on {os.cpu_count()} CPUs before"
    )
    return timings


def print_timings(title: str, timings: Sequence[PageTiming]) -> None:
    print(f"\n{title}")
    print(f"  {'page':<22} {'status':>6} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8} {'KB':>8}")
    for t in timings:
        if t.ok:
            print(
                f"  {t.path:<22} {t.status:>6} {t.pct(0.5):>8.1f} {t.pct(0.95):>8.1f}"
                f" {max(t.ms):>8.1f} {t.size / 1024:>8.1f}"
            )
        else:
            print(f"  {t.path:<22} {t.status:>6} {'-':>8} {'-':>8} {'-':>8} {t.size / 1024:>8.1f}")


def print_comparison(before: Sequence[PageTiming], after: Sequence[PageTiming]) -> bool:
    print("\np95 before (as seeded) and after (raw data doubled); targets:")
    print(f"p95 <= {TARGET_P95_MS:.0f} ms in both, |after / before - 1| <= {TARGET_CHANGE:.0%}")
    print(
        f"  {'page':<22} {'before':>8} {'after':>8} {'ms':>7} {'ratio':>7}"
        f" {'p95 target':>11} {'change target':>14}"
    )
    met = True
    for b, a in zip(before, after, strict=True):
        if not (b.ok and a.ok):
            print(f"  {b.path:<22} not measured (status {b.status}, then {a.status})")
            continue
        ratio = a.pct(0.95) / b.pct(0.95)
        fast = max(a.pct(0.95), b.pct(0.95)) <= TARGET_P95_MS
        flat = abs(ratio - 1) <= TARGET_CHANGE
        met = met and fast and flat
        print(
            f"  {b.path:<22} {b.pct(0.95):>8.1f} {a.pct(0.95):>8.1f}"
            f" {a.pct(0.95) - b.pct(0.95):>+7.1f} {ratio:>7.2f}"
            f" {'met' if fast else 'MISSED':>11} {'met' if flat else 'MISSED':>14}"
        )
    return met


# ------------------------------------------------------------------------ main


def print_seeding(title: str, tally: Tally, seconds: float, url: str) -> None:
    print(f"\n{title}: {seconds:.1f} s ({tally.generate_s:.1f} s generating in numpy)")
    print(f"  {'table':<28} {'rows written':>14} {'COPY s':>8} {'rows in table':>14}")
    for table in TABLES:
        written = tally.rows.get(table, 0)
        copy_s = tally.copy_s.get(table, 0.0)
        print(f"  {table:<28} {written:>14,} {copy_s:>8.1f} {count_rows(url, table):>14,}")
    print(f"  {'(commits)':<28} {'':>14} {tally.copy_s.get('commit', 0.0):>8.1f}")


def snapshot_source(dest: Path) -> str:
    """Copy the working tree (tracked and untracked files, not ignored ones) to dest.

    Others may edit the project during a run: every timing must serve the same code.
    """
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPO_ROOT,
        capture_output=True,
        check=True,
    ).stdout
    for name in filter(None, listed.decode().split("\0")):
        path = REPO_ROOT / name
        if path.is_file():  # a tracked file deleted in the working tree is listed too
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, dest / name)
    head = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=REPO_ROOT, capture_output=True, text=True
    ).stdout.strip()
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=no"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
    ).stdout.strip()
    return f"commit {head}" + (" with uncommitted changes" if dirty else "")


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    url = args.database_url
    # A URL, not a conninfo string: the server reads it with dj_database_url.
    doubled = urlunsplit(urlsplit(url)._replace(path=f"/{database_name(url)}_doubled"))
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    first_start = (now - timedelta(days=args.days)).replace(hour=0, minute=0)
    older_start = first_start - (now - first_start)
    print(
        f"{args.gpus} GPUs on {math.ceil(args.gpus / GPUS_PER_NODE)} nodes,"
        f" {args.deployments} deployments, samples every {args.interval} s"
    )
    print(
        f"{database_name(url)}: {first_start:%Y-%m-%d %H:%M} to {now:%Y-%m-%d %H:%M} UTC;"
        f" {database_name(doubled)} also from {older_start:%Y-%m-%d %H:%M}"
    )
    recreate_database(url)
    data_dir = Path(tempfile.mkdtemp(prefix="inferscope-bench-pages-"))
    src = data_dir / "src"
    try:
        print(f"serving a copy of the working tree: {snapshot_source(src)}")
        manage(child_env(url, data_dir), "migrate", "--no-input", root=src)
        os.environ.update(
            DATABASE_URL=url,
            DJANGO_SETTINGS_MODULE="inferscope.settings",
            INFERSCOPE_DATA_DIR=str(data_dir),
        )
        sys.path.insert(0, str(src))
        os.chdir(src)
        import django

        django.setup()
        from django.db import connections

        started = time.perf_counter()
        fleet = create_fleet(args, (older_start - timedelta(days=1)).date())
        with psycopg.connect(url) as conn:
            fast_seeding(conn)
            tally = seed_stretch(conn, fleet, first_start, now, args.interval, 1, fleet.energy)
        fleet.anomaly_id = create_anomalies(fleet, now - timedelta(days=args.days), now)
        connections.close_all()
        seeded = time.perf_counter() - started
        vacuumed = vacuum_analyze(url)
        print_seeding(f"seeded {database_name(url)}", tally, seeded, url)
        print(f"  VACUUM (ANALYZE) + CHECKPOINT: {vacuumed:.1f} s")

        started = time.perf_counter()
        clone_database(url, doubled)
        cloned = time.perf_counter() - started
        started = time.perf_counter()
        with psycopg.connect(doubled) as conn:
            fast_seeding(conn)
            tally = seed_stretch(
                conn, fleet, older_start, first_start, args.interval, 2, fleet.energy, True
            )
        seeded = time.perf_counter() - started
        vacuumed = vacuum_analyze(doubled)
        print_seeding(
            f"copied to {database_name(doubled)} in {cloned:.1f} s, then seeded"
            f" {older_start:%Y-%m-%d %H:%M} to {first_start:%Y-%m-%d %H:%M} UTC before it",
            tally,
            seeded,
            doubled,
        )
        print(f"  VACUUM (ANALYZE) + CHECKPOINT: {vacuumed:.1f} s\n")

        newest = catch_up_and_vacuum([url, doubled], fleet, args.interval)
        envs = [child_env(url, data_dir), child_env(doubled, data_dir)]
        before, after = measure(envs, src, args, pages(fleet), data_dir, newest)
        print_timings(
            f"{database_name(url)}: ?range={RANGE}, {args.requests} requests each", before
        )
        print_timings(f"{database_name(doubled)}: twice the raw data, the same requests", after)
        met = print_comparison(before, after)
        unmeasured = sum(not (b.ok and a.ok) for b, a in zip(before, after, strict=True))
        verdict = "all measured pages met both targets" if met else "targets MISSED"
        print(f"\n{verdict}; {unmeasured} of {len(before)} pages not measured")
        return 0 if met else 1
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)
        if not args.keep_db:
            with contextlib.suppress(Exception):
                from django.db import connections

                connections.close_all()
            drop_database(url)
            drop_database(doubled)


if __name__ == "__main__":
    raise SystemExit(main())
