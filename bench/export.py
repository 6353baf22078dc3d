"""Export memory: 100k hourly cost records as CSV through /api/v1/cost-records, streamed
and, as a baseline, built in memory, each path in a process of its own.

What it measures
    CostRecords for a fleet (1,000 GPUs on 125 nodes, one deployment a node, by
    default) are loaded with COPY (untimed): one row per GPU-hour until --rows.
    Then two fresh processes each GET the real endpoint through Django's test client
    with a read API token, `?start=…&end=…&format=csv` over every row:
    1. streaming: the endpoint as shipped (a StreamingHttpResponse over
       `values_list(...).iterator(chunk_size=2000)`); the body is read chunk by chunk.
    2. baseline: the same request, with the view's export swapped for one that does
       `list(rows)` and writes the CSV into one string (an HttpResponse).
    Each process prints its rows, bytes, seconds and peak RSS (ru_maxrss) before
    and after the request; both bodies must hash the same. Then the ratio of the
    peaks, and of the growth over each process's size before the request.

How to run
    .venv/bin/python bench/export.py
    .venv/bin/python bench/export.py --rows 720000   # a month of hours, 1,000 GPUs

The bench database (default postgresql://postgres@127.0.0.1:5432/inferscope_bench_export,
or --database-url) is dropped and created afresh and dropped at the end unless --keep-db.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import (  # noqa: E402
    REPO_ROOT,
    child_env,
    database_arguments,
    drop_database,
    manage,
    recreate_database,
)

DEFAULT_DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/inferscope_bench_export"
START = datetime(2026, 10, 1, tzinfo=UTC)
PATHS = ("streaming", "baseline")


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("--rows", type=int, default=100_000, help="cost records (100000)")
    p.add_argument("--gpus", type=int, default=1_000, help="GPUs, 8 per node (1000)")
    database_arguments(p, DEFAULT_DATABASE_URL)
    p.add_argument("--child", choices=PATHS, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.rows < 1 or args.gpus < 1:
        p.error("--rows and --gpus must be positive")
    if args.rows / args.gpus > 400 * 24:
        p.error("more hours than one request may read (400 days): add GPUs")
    return args


def hours_for(args: argparse.Namespace) -> int:
    return -(-args.rows // args.gpus)


def seed(args: argparse.Namespace) -> str:
    """Fleet and cost records; returns a read API token."""
    from django.contrib.auth.models import User
    from django.db import connection

    from api.services import api_token_create
    from collectors.models import Deployment, Gpu, Node

    nodes = Node.objects.bulk_create(
        Node(name=f"node-{n:03d}", labels={"team": f"t{n % 4}"})
        for n in range((args.gpus + 7) // 8)
    )
    gpus = Gpu.objects.bulk_create(
        Gpu(node=nodes[i // 8], uuid=f"GPU-{i:05d}", index=i % 8, model_name="NVIDIA H100")
        for i in range(args.gpus)
    )
    deployments = Deployment.objects.bulk_create(
        Deployment(node=node, name=f"serve-{n:03d}") for n, node in enumerate(nodes)
    )
    written = 0
    with (
        connection.cursor() as cursor,
        cursor.cursor.copy(
            "COPY costs_costrecord (hour, gpu_id, deployment_id, usd, gpu_hours, energy_wh,"
            " idle_held_usd, idle_held_hours, rate_usd_per_hour, priced, pricing) FROM STDIN"
        ) as copy,
    ):
        for hour in range(hours_for(args)):
            at = START + timedelta(hours=hour)
            for i, gpu in enumerate(gpus):
                if written == args.rows:
                    break
                deployment = deployments[i // 8].pk
                usd = f"{2 + (hour * 7 + i) % 100 / 1000:.6f}"
                copy.write_row(
                    (at, gpu.pk, deployment, usd, 1.0, 650.0, 0, 0.0, "2.5", True, "on_demand")
                )
                written += 1
    user = User.objects.create_user("bench", "bench@example.org", "bench-password-1")
    return api_token_create(user, "bench export", "read")[1]


def materialized_export(
    header: Sequence[str], rows: Any, fmt: str, name: str, envelope: Any = None
) -> Any:
    """The baseline: the whole list in memory, then the whole CSV as one string."""
    from django.http import HttpResponse

    from inferscope.lib.drf.export import stream_csv

    everything = list(rows)
    body = "".join(stream_csv(header, everything))
    return HttpResponse(body, content_type="text/csv; charset=utf-8")


def peak_kib() -> int:
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)  # KiB on Linux


def child(args: argparse.Namespace) -> int:
    import django

    django.setup()
    from django.test import Client

    token = os.environ["BENCH_API_TOKEN"]
    client = Client(SERVER_NAME="localhost", HTTP_AUTHORIZATION=f"Bearer {token}")
    end = START + timedelta(hours=hours_for(args))
    params = {"start": START.isoformat(), "end": end.isoformat()}
    # Warm up both paths alike: imports, URL resolver, the token and connection.
    warm = client.get("/api/v1/cost-records", {**params, "page_size": 1})
    assert warm.status_code == 200, warm.content[:500]
    if args.child == "baseline":
        from inferscope.lib.drf import views as base

        base.export_response = materialized_export  # type: ignore[assignment]
    before = peak_kib()
    started = time.perf_counter()
    response = client.get("/api/v1/cost-records", {**params, "format": "csv"})
    assert response.status_code == 200, response
    digest = hashlib.sha256()
    size = lines = 0
    chunks = response.streaming_content if response.streaming else [response.content]
    for chunk in chunks:
        digest.update(chunk)
        size += len(chunk)
        lines += chunk.count(b"\n")
    response.close()
    seconds = time.perf_counter() - started
    result = {
        "path": args.child,
        "rows": lines - 1,
        "bytes": size,
        "seconds": round(seconds, 3),
        "rss_before_kib": before,
        "peak_rss_kib": peak_kib(),
        "sha256": digest.hexdigest(),
        "streamed": bool(response.streaming),
    }
    print(json.dumps(result))
    return 0


def run_child(args: argparse.Namespace, path: str, env: dict[str, str]) -> dict[str, Any]:
    cmd = [sys.executable, __file__, "--child", path, "--rows", str(args.rows)]
    cmd += ["--gpus", str(args.gpus), "--database-url", args.database_url]
    proc = subprocess.run(cmd, cwd=REPO_ROOT, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"{path} failed:\n{proc.stdout}{proc.stderr}")
    return dict(json.loads(proc.stdout.strip().splitlines()[-1]))


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.child:
        return child(args)
    recreate_database(args.database_url)
    try:
        with tempfile.TemporaryDirectory(prefix="bench-export-") as data_dir:
            env = child_env(args.database_url, Path(data_dir))
            manage(env, "migrate", "--no-input")
            os.environ.update(env)
            import django

            django.setup()
            started = time.perf_counter()
            env["BENCH_API_TOKEN"] = seed(args)
            print(f"seeded {args.rows:,} cost records in {time.perf_counter() - started:.1f} s")
            from django.db import connections

            connections.close_all()
            results = {path: run_child(args, path, env) for path in PATHS}
    finally:
        if not args.keep_db:
            drop_database(args.database_url)
    stream, base = results["streaming"], results["baseline"]
    if stream["sha256"] != base["sha256"] or stream["rows"] != args.rows:
        raise SystemExit(f"the two exports differ or miss rows: {results}")
    print(f"{'path':<10} {'rows':>9} {'MB':>7} {'seconds':>8} {'RSS before':>11} {'peak RSS':>9}")
    for r in (stream, base):
        print(
            f"{r['path']:<10} {r['rows']:>9,} {r['bytes'] / 1e6:>7.1f} {r['seconds']:>8.2f}"
            f" {r['rss_before_kib'] / 1024:>8.1f} MiB {r['peak_rss_kib'] / 1024:>5.1f} MiB"
        )
    grow_stream = stream["peak_rss_kib"] - stream["rss_before_kib"]
    grow_base = base["peak_rss_kib"] - base["rss_before_kib"]
    print(
        f"peak RSS baseline/streaming: {base['peak_rss_kib'] / stream['peak_rss_kib']:.2f}x;"
        f" growth during the request: streaming {grow_stream / 1024:.1f} MiB,"
        f" baseline {grow_base / 1024:.1f} MiB"
        f" ({grow_base / max(grow_stream, 1):.0f}x)"
    )
    print(f"bodies identical: sha256 {stream['sha256'][:16]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
