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
    the other, so `costs.rollups.roll_hours` over any seeded hour but the very
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
import http.client
import math
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_DOWN, Decimal
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

import numpy as np
import psycopg
from psycopg import sql

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import (  # noqa: E402
    REPO_ROOT,
    admin_conninfo,
    checkpoint,
    child_env,
    count_rows,
    database_name,
    drop_database,
    gunicorn,
    manage,
    recreate_database,
)
from costs.constants import THROTTLE_MASK  # noqa: E402 - plain constants, no Django needed

DEFAULT_DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/inferscope_bench_pages"
USERNAME = "bench"
PASSWORD = "bench-pages-password"  # of a user in a throw-away database
GIB = 2**30
MIB = 2**20
DAY_S = 86_400
HOUR_S = 3_600
RATE_USD = Decimal("2.5000")
MICRO = Decimal("0.000001")
TARGET_P95_MS = 150.0
TARGET_CHANGE = 0.10
RANGE = "30d"
GPUS_PER_NODE = 8
GPUS_PER_DEPLOYMENT = 6
TEAMS = ("search", "assistant", "ml-platform")
MODELS = (
    "meta-llama/Llama-3.1-8B-Instruct",
    "meta-llama/Llama-3.1-70B-Instruct",
    "Qwen/Qwen2.5-32B-Instruct",
    "mistralai/Mistral-7B-Instruct-v0.3",
)
# SW power cap (in the rollup's throttle mask) and GPU idle (not in it).
THROTTLE_POWER_CAP = 0x4
THROTTLE_IDLE = 0x1
PG_EPOCH_S = 946_684_800  # 2000-01-01, the zero of PostgreSQL's binary timestamps
COPY_HEADER = b"PGCOPY\n\xff\r\n\x00" + struct.pack(">ii", 0, 0)
COPY_TRAILER = struct.pack(">h", -1)
BINARY_TYPES = {"i4": ">i4", "i8": ">i8", "f8": ">f8", "ts": ">i8"}
TEXT_BATCH_ROWS = 20_000
# Load in this many steps selects a precomputed histogram shape per sample.
LOAD_LEVELS = 20

TABLES = (
    "collectors_gpusample",
    "collectors_inferencesample",
    "costs_gpurollup",
    "costs_inferencerollup",
    "costs_costrecord",
    "anomaly_anomaly",
)

# ------------------------------------------------------------------------ histograms


@dataclass(frozen=True)
class HistSpec:
    """One latency histogram: vLLM's bucket bounds and a log-normal whose median grows with load."""

    name: str
    bounds: tuple[float, ...]
    median_s: float
    load_factor: float
    sigma: float = 0.7
    pvals: np.ndarray = field(init=False, repr=False, compare=False)
    mids: np.ndarray = field(init=False, repr=False, compare=False)
    prefix: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        rows = []
        for level in range(LOAD_LEVELS):
            load = (level + 0.5) / LOAD_LEVELS
            mu = math.log(self.median_s * (1 + self.load_factor * load**2))
            cdf = [
                0.5 * (1 + math.erf((math.log(b) - mu) / (self.sigma * math.sqrt(2))))
                for b in self.bounds
            ]
            probs = np.diff([0.0, *cdf, 1.0])
            rows.append(np.clip(probs, 0, None) / np.clip(probs, 0, None).sum())
        uppers = [*self.bounds, self.bounds[-1] * 1.5]
        lowers = [0.0, *self.bounds]
        mids = np.array([(lo + hi) / 2 for lo, hi in zip(lowers, uppers, strict=True)])
        bounds_json = "[" + ", ".join(repr(b) for b in self.bounds) + "]"
        object.__setattr__(self, "pvals", np.array(rows))
        object.__setattr__(self, "mids", mids)
        object.__setattr__(self, "prefix", '{"bounds": ' + bounds_json + ', "counts": [')


E2E_BOUNDS = (0.3, 0.5, 0.8, 1.0, 1.5, 2.0, 2.5, 5.0, 10.0, 15.0, 20.0, 30.0, 40.0, 50.0, 60.0)
E2E_BOUNDS += (120.0, 240.0, 480.0, 960.0, 1920.0, 7680.0)
HISTS = (
    HistSpec(
        "ttft_hist",
        (0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0)
        + (7.5, 10.0, 20.0, 40.0, 80.0, 160.0, 640.0, 2560.0),
        median_s=0.08,
        load_factor=5.0,
    ),
    HistSpec(
        "itl_hist",
        (0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5)
        + (10.0, 20.0, 40.0, 80.0),
        median_s=0.02,
        load_factor=1.5,
        sigma=0.4,
    ),
    HistSpec("e2e_hist", E2E_BOUNDS, median_s=4.0, load_factor=1.5),
    HistSpec("queue_hist", E2E_BOUNDS, median_s=0.05, load_factor=30.0, sigma=1.0),
)


def hist_json(spec: HistSpec, counts: list[int], total: float) -> str:
    return f'{spec.prefix}{", ".join(map(str, counts))}], "sum": {round(total, 4)!r}}}'


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


# ------------------------------------------------------------------------ fleet


@dataclass
class Fleet:
    gpu_ids: np.ndarray  # (G,) database ids
    uuids: list[str]
    owner: np.ndarray  # (G,) index into deployments, -1 for an idle GPU
    gpu_factor: np.ndarray  # (G,) how hard each GPU works for its deployment's load
    mem_used: np.ndarray  # (G,) bytes held: vLLM takes its share once, at start
    energy: np.ndarray  # (G,) energy counter just before the first sample of the first stretch
    deployment_ids: list[int]
    deployment_rps: np.ndarray  # (D,) requests/s at full load
    deployment_gpus: list[list[int]]  # GPU indices of each deployment
    memory_json: list[str]  # each deployment's {uuid: bytes}, as raw samples carry it
    pricing: str
    first_gpu: int = 0
    first_deployment: int = 0
    anomaly_id: int | None = None
    # The newest day written (epoch s of its start) and the energy counter before it.
    today: tuple[int, np.ndarray] | None = None


def create_fleet(args: argparse.Namespace, priced_from: date) -> Fleet:
    """Nodes, GPUs, deployments, their price and the login, through the ORM."""
    from django.contrib.auth import get_user_model

    from collectors.models import Deployment, Gpu, Node
    from costs.choices import NodePricingKind
    from costs.models import NodePrice

    rng = np.random.default_rng(7)
    nodes = [
        Node.objects.create(name=f"node-{n:02d}", hostname=f"node-{n:02d}.bench")
        for n in range(math.ceil(args.gpus / GPUS_PER_NODE))
    ]
    for node in nodes:
        NodePrice.objects.create(
            node=node,
            valid_from=priced_from,
            kind=NodePricingKind.CUSTOM,
            usd_per_gpu_hour=RATE_USD,
        )
    gpus = [
        Gpu.objects.create(
            node=nodes[i // GPUS_PER_NODE],
            uuid=f"GPU-{i:08x}-b3c4-4d5e-8f90-{i * 7919:012x}",
            index=i % GPUS_PER_NODE,
            model_name="NVIDIA H100 80GB HBM3",
            memory_total_bytes=80 * GIB,
        )
        for i in range(args.gpus)
    ]
    owner = np.full(args.gpus, -1)
    deployment_ids, deployment_gpus, memory_json = [], [], []
    for d in range(args.deployments):
        on_node = [i for i in range(args.gpus) if i // GPUS_PER_NODE == d]
        mine = on_node[:GPUS_PER_DEPLOYMENT]
        dep = Deployment.objects.create(
            node=nodes[d],
            name=f"serve-{d:02d}",
            model=MODELS[d % len(MODELS)],
            server_kind="vllm",
            endpoint=f"http://node-{d:02d}.bench:8000/metrics",
            labels={"team": TEAMS[d % len(TEAMS)], "project": f"project-{d % 4}"},
        )
        dep.gpus.set([gpus[i] for i in mine])
        owner[mine] = d
        deployment_ids.append(dep.pk)
        deployment_gpus.append(mine)
    mem_used = np.where(
        owner >= 0,
        72 * GIB + rng.integers(0, 256, args.gpus) * MIB,
        512 * MIB + rng.integers(0, 16, args.gpus) * MIB,
    ).astype(np.int64)
    for mine in deployment_gpus:
        memory_json.append(
            "{" + ", ".join(f'"{gpus[i].uuid}": {int(mem_used[i])}' for i in mine) + "}"
        )
    get_user_model().objects.create_superuser(USERNAME, "bench@example.com", PASSWORD)
    return Fleet(
        gpu_ids=np.array([g.pk for g in gpus], dtype=np.int64),
        uuids=[g.uuid for g in gpus],
        owner=owner,
        gpu_factor=rng.uniform(0.9, 1.0, args.gpus),
        mem_used=mem_used,
        energy=5e10 + rng.uniform(0, 1e9, args.gpus),
        deployment_ids=deployment_ids,
        deployment_rps=rng.uniform(8, 16, args.deployments),
        deployment_gpus=deployment_gpus,
        memory_json=memory_json,
        pricing=f"node price: ${RATE_USD}/GPU-h from {priced_from}",
        first_gpu=int(gpus[0].pk),
        first_deployment=deployment_ids[0],
    )


def create_anomalies(fleet: Fleet, start: datetime, end: datetime) -> int:
    """A dozen anomalies over the stretch, newest first; returns the id of a GPU one."""
    from anomaly.models import Anomaly
    from collectors.models import Gpu

    node_id = Gpu.objects.get(pk=fleet.first_gpu).node_id
    span = end - start
    rows = []
    specs = [
        ("gpu.util", "dip", "critical", "open"),
        ("deployment.ttft_p95", "spike", "warning", "open"),
        ("fleet.cost_per_hour", "level_shift", "info", "acknowledged"),
        ("gpu.power", "spike", "warning", "open"),
        ("deployment.error_rate", "spike", "critical", "resolved"),
        ("gpu.temperature", "drift", "warning", "open"),
        ("node.presence", "missing", "critical", "resolved"),
        ("deployment.cost_per_hour", "level_shift", "info", "open"),
        ("deployment.tokens_per_s", "dip", "warning", "false_positive"),
        ("gpu.util", "stuck", "warning", "open"),
        ("deployment.e2e_p95", "spike", "warning", "open"),
        ("gpu.multivariate", "multivariate", "info", "open"),
    ]
    for i, (metric, kind, severity, status) in enumerate(specs):
        # Entities in turn; the first row (the newest, on the first GPU) is the one timed.
        entity = {
            "gpu": {"gpu_id": int(fleet.gpu_ids[i % len(fleet.gpu_ids)])},
            "deployment": {"deployment_id": fleet.deployment_ids[i % len(fleet.deployment_ids)]},
            "node": {"node_id": node_id},
            "fleet": {},
        }[metric.split(".")[0]]
        # Newest ends an hour before the data does; the rest spread back over the stretch.
        at = end - timedelta(hours=1) - span * i / (len(specs) + 1)
        rows.append(
            Anomaly(
                metric=metric,
                detector="seasonal",
                kind=kind,
                start=at - timedelta(minutes=25),
                end=at,
                score=4.0 + i % 5,
                severity=severity,
                observed=12.0 + i,
                expected_low=40.0,
                expected_high=80.0,
                explanation=f"bench: {metric} outside its usual range for 25 minutes",
                status=status,
                **entity,
            )
        )
    created = Anomaly.objects.bulk_create(rows)
    return int(created[0].pk)


# ------------------------------------------------------------------------ COPY helpers


def binary_rows(columns: Sequence[tuple[str, np.ndarray]]) -> bytes:
    """Rows of fixed-width, non-null columns in COPY BINARY's tuple format (no header)."""
    n = len(columns[0][1])
    fields: list[tuple[str, str]] = [("count", ">i2")]
    for i, (kind, _) in enumerate(columns):
        fields += [(f"len{i}", ">i4"), (f"val{i}", BINARY_TYPES[kind])]
    rows = np.empty(n, dtype=np.dtype(fields))
    rows["count"] = len(columns)
    for i, (kind, values) in enumerate(columns):
        rows[f"len{i}"] = 8 if kind != "i4" else 4
        rows[f"val{i}"] = values
    return rows.tobytes()


def pg_micros(epoch_s: np.ndarray) -> np.ndarray:
    return (epoch_s.astype(np.int64) - PG_EPOCH_S) * 1_000_000


def iso(epoch_s: np.ndarray) -> list[str]:
    return [f"{s}+00" for s in np.datetime_as_string(epoch_s.astype("datetime64[s]"))]


@dataclass
class Tally:
    rows: dict[str, int] = field(default_factory=dict)
    copy_s: dict[str, float] = field(default_factory=dict)
    generate_s: float = 0.0

    def add(self, table: str, rows: int, seconds: float) -> None:
        self.rows[table] = self.rows.get(table, 0) + rows
        self.copy_s[table] = self.copy_s.get(table, 0.0) + seconds


def copy_binary(
    conn: psycopg.Connection[Any], tally: Tally, table: str, names: str, payload: bytes, rows: int
) -> None:
    started = time.perf_counter()
    with (
        conn.cursor() as cur,
        cur.copy(f"COPY {table} ({names}) FROM STDIN (FORMAT BINARY)") as copy,
    ):
        copy.write(COPY_HEADER)
        copy.write(payload)
        copy.write(COPY_TRAILER)
    tally.add(table, rows, time.perf_counter() - started)


def copy_text(
    conn: psycopg.Connection[Any], tally: Tally, table: str, names: str, lines: Iterator[str]
) -> None:
    started = time.perf_counter()
    rows = 0
    with conn.cursor() as cur, cur.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
        batch: list[str] = []
        for line in lines:
            batch.append(line)
            if len(batch) >= TEXT_BATCH_ROWS:
                copy.write("".join(batch))
                rows += len(batch)
                batch.clear()
        if batch:
            copy.write("".join(batch))
            rows += len(batch)
    # Formatting the lines happens inside the COPY; it is counted as COPY time.
    tally.add(table, rows, time.perf_counter() - started)


# ------------------------------------------------------------------------ generation


def day_chunks(start: datetime, end: datetime) -> list[tuple[int, int]]:
    """[start, end) cut at UTC midnights, as epoch seconds: no rollup bucket spans two chunks."""
    lo, hi = int(start.timestamp()), int(end.timestamp())
    out = []
    while lo < hi:
        nxt = min((lo // DAY_S + 1) * DAY_S, hi)
        out.append((lo, nxt))
        lo = nxt
    return out


def load_curve(fleet: Fleet, t: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """(D, n) fraction of each deployment's capacity in use: busy afternoons, quiet weekends."""
    d = np.arange(len(fleet.deployment_ids))[:, None]
    hour = (t % DAY_S) / HOUR_S
    weekday = (t // DAY_S + 3) % 7  # 1970-01-01 was a Thursday; Monday is 0
    daily = 0.5 + 0.35 * np.sin(2 * np.pi * (hour[None, :] - 9 - d) / 24)
    weekly = np.where(weekday >= 5, 0.7, 1.0)[None, :]
    noise = rng.normal(0, 0.04, (len(d), len(t)))
    return np.clip(daily * weekly * (0.8 + 0.05 * (d % 5)) + noise, 0.02, 1.0)


@dataclass
class Chunk:
    t: np.ndarray  # (n,) epoch seconds of the samples
    gpu: dict[str, np.ndarray]  # (G, n) each
    inf: dict[str, np.ndarray]  # (D, n) each
    hists: dict[str, tuple[np.ndarray, np.ndarray]]  # name -> ((D, n, K) counts, (D, n) sums)


def generate(
    fleet: Fleet,
    lo: int,
    hi: int,
    interval: int,
    rng: np.random.Generator,
    energy_before: np.ndarray,
) -> Chunk:
    t = np.arange(lo, hi, interval, dtype=np.int64)
    n, g_count = len(t), len(fleet.gpu_ids)
    load = load_curve(fleet, t, rng)
    busy = fleet.owner >= 0
    idle = ~busy
    gpu_load = load[np.where(busy, fleet.owner, 0)] * fleet.gpu_factor[:, None]
    util = np.clip(np.rint(100 * gpu_load + rng.normal(0, 3, (g_count, n))), 0, 100)
    util[idle] = 0.0
    power = np.clip(95 + 5.9 * util + rng.normal(0, 8, (g_count, n)), 60, 700).round(3)
    power[idle] = (62 + rng.normal(0, 1.5, (int(idle.sum()), n))).round(3)
    capped = power > 660
    throttle = np.where(capped, THROTTLE_POWER_CAP, 0) | np.where(idle, THROTTLE_IDLE, 0)[:, None]
    step = power * interval
    energy = energy_before[:, None] + np.cumsum(step, axis=1)
    gpu = {
        "util_gpu": util,
        "util_mem": (util * 0.55).round(1),
        "mem_used_bytes": np.broadcast_to(fleet.mem_used[:, None], (g_count, n)),
        "mem_total_bytes": np.full((g_count, n), 80 * GIB, dtype=np.int64),
        "power_w": power,
        "power_limit_w": np.full((g_count, n), 700.0),
        "energy_j": energy,
        "temp_c": np.rint(
            np.where(busy[:, None], 33 + 0.38 * util, 31.0) + rng.normal(0, 0.7, (g_count, n))
        ),
        "sm_clock_mhz": np.where(capped, 1755, np.where(busy[:, None], 1980, 345)),
        "mem_clock_mhz": np.full((g_count, n), 2619),
        "throttle_reasons": throttle.astype(np.int64),
        "step": step,
    }

    requests = rng.poisson(load * fleet.deployment_rps[:, None] * interval)
    errors = rng.binomial(requests, 0.004)
    prompt = rng.poisson(requests * 850.0)
    generated = rng.poisson(requests * 240.0)
    inf = {
        "requests_ok": requests - errors,
        "requests_error": errors,
        "prompt_tokens": prompt,
        "generation_tokens": generated,
        "running": rng.poisson(load * 48).astype(float),
        "waiting": rng.poisson(np.maximum(load - 0.8, 0) * 80).astype(float),
        "kv_cache_usage": np.clip(0.1 + 0.8 * load + rng.normal(0, 0.03, load.shape), 0, 1),
        "prefix_cache_hits": rng.binomial(prompt, 0.35),
        "prefix_cache_queries": prompt,
        "preemptions": rng.poisson(np.maximum(load - 0.9, 0) * 3),
    }
    level = np.minimum((load * LOAD_LEVELS).astype(int), LOAD_LEVELS - 1)
    hists = {}
    for spec in HISTS:
        # Every request has one TTFT, end-to-end and queue time; ITL is per later token.
        observed = np.maximum(generated - requests, 0) if spec.name == "itl_hist" else requests
        counts = rng.multinomial(observed, spec.pvals[level])
        hists[spec.name] = (counts, counts @ spec.mids)
    return Chunk(t=t, gpu=gpu, inf=inf, hists=hists)


def group_starts(buckets: np.ndarray, resolution: int) -> tuple[np.ndarray, np.ndarray]:
    """The target buckets of sorted source buckets, and where each one starts."""
    keys = buckets // resolution * resolution
    starts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])
    return keys[starts], starts


def regroup(
    values: dict[str, np.ndarray], starts: np.ndarray, maxes: frozenset[str]
) -> dict[str, np.ndarray]:
    return {
        k: (np.maximum if k in maxes else np.add).reduceat(v, starts, axis=1)
        for k, v in values.items()
    }


GPU_ROLLUP_COLUMNS: tuple[tuple[str, str], ...] = (
    ("samples", "i4"),
    ("present_s", "f8"),
    ("util_sum", "f8"),
    ("util_n", "i4"),
    ("util_max", "f8"),
    ("power_sum", "f8"),
    ("power_n", "i4"),
    ("power_max", "f8"),
    ("energy_j", "f8"),
    ("mem_used_max", "i8"),
    ("mem_total", "i8"),
    ("throttled_s", "f8"),
    ("temp_sum", "f8"),
    ("temp_n", "i4"),
    ("temp_max", "f8"),
    ("mem_used_sum", "f8"),
    ("mem_used_n", "i4"),
    ("sm_clock_sum", "f8"),
    ("sm_clock_n", "i4"),
)
GPU_MAXES = frozenset({"util_max", "power_max", "mem_used_max", "mem_total", "temp_max"})
GPU_SAMPLE_COLUMNS: tuple[tuple[str, str], ...] = (
    ("util_gpu", "f8"),
    ("util_mem", "f8"),
    ("mem_used_bytes", "i8"),
    ("mem_total_bytes", "i8"),
    ("power_w", "f8"),
    ("power_limit_w", "f8"),
    ("energy_j", "f8"),
    ("temp_c", "f8"),
    ("sm_clock_mhz", "i4"),
    ("mem_clock_mhz", "i4"),
    ("throttle_reasons", "i8"),
)
INF_SUMS = (
    "requests_ok",
    "requests_error",
    "requests_aborted",
    "prompt_tokens",
    "generation_tokens",
)
INF_EXTRA_SUMS = ("prefix_cache_hits", "prefix_cache_queries", "preemptions")
INF_MAXES = frozenset({"running_max", "waiting_max"})
INF_ROLLUP_NAMES = (
    "deployment_id, resolution, bucket, samples, present_s, requests_ok, requests_error,"
    " requests_aborted, prompt_tokens, generation_tokens, running_max, waiting_max,"
    " kv_cache_sum, kv_cache_n, prefix_cache_hits, prefix_cache_queries, preemptions,"
    " ttft_hist, itl_hist, e2e_hist, queue_hist, gpu_memory"
)
INF_SAMPLE_NAMES = (
    "deployment_id, ts, interval_s, requests_ok, requests_error, requests_aborted,"
    " prompt_tokens, generation_tokens, running, waiting, kv_cache_usage, prefix_cache_hits,"
    " prefix_cache_queries, preemptions, ttft_hist, itl_hist, e2e_hist, queue_hist, gpu_memory"
)
COST_NAMES = (
    "hour, gpu_id, deployment_id, usd, gpu_hours, energy_wh, idle_held, rate_usd_per_hour,"
    " priced, pricing"
)


def gpu_minutes(chunk: Chunk, per_minute: int, interval: int) -> dict[str, np.ndarray]:
    g_count, n = chunk.gpu["util_gpu"].shape
    m = n // per_minute

    def by_minute(name: str) -> np.ndarray:
        return chunk.gpu[name].reshape(g_count, m, per_minute)

    full = np.full((g_count, m), per_minute, dtype=np.int64)
    throttled = (by_minute("throttle_reasons") & THROTTLE_MASK) != 0
    return {
        "samples": full,
        "present_s": full * float(interval),
        "util_sum": by_minute("util_gpu").sum(2),
        "util_n": full,
        "util_max": by_minute("util_gpu").max(2),
        "power_sum": by_minute("power_w").sum(2),
        "power_n": full,
        "power_max": by_minute("power_w").max(2),
        "energy_j": by_minute("step").sum(2),
        "mem_used_max": by_minute("mem_used_bytes").max(2),
        "mem_total": by_minute("mem_total_bytes").max(2),
        "throttled_s": throttled.sum(2) * float(interval),
        "temp_sum": by_minute("temp_c").sum(2),
        "temp_n": full,
        "temp_max": by_minute("temp_c").max(2),
        "mem_used_sum": by_minute("mem_used_bytes").sum(2).astype(float),
        "mem_used_n": full,
        "sm_clock_sum": by_minute("sm_clock_mhz").sum(2).astype(float),
        "sm_clock_n": full,
    }


def inference_minutes(chunk: Chunk, per_minute: int, interval: int) -> dict[str, np.ndarray]:
    d_count, n = chunk.inf["requests_ok"].shape
    m = n // per_minute

    def by_minute(values: np.ndarray) -> np.ndarray:
        return values.reshape(d_count, m, per_minute, *values.shape[2:])

    full = np.full((d_count, m), per_minute, dtype=np.int64)
    out = {
        "samples": full,
        "present_s": full * float(interval),
        "requests_aborted": np.zeros((d_count, m), dtype=np.int64),
        "running_max": by_minute(chunk.inf["running"]).max(2),
        "waiting_max": by_minute(chunk.inf["waiting"]).max(2),
        "kv_cache_sum": by_minute(chunk.inf["kv_cache_usage"]).sum(2),
        "kv_cache_n": full,
    }
    for name in (*INF_SUMS, *INF_EXTRA_SUMS):
        if name != "requests_aborted":
            out[name] = by_minute(chunk.inf[name]).sum(2)
    for spec in HISTS:
        counts, sums = chunk.hists[spec.name]
        out[spec.name] = by_minute(counts).sum(2)
        out[spec.name + ".sum"] = by_minute(sums).sum(2)
    return out


def gpu_rollup_payload(
    fleet: Fleet, resolution: int, buckets: np.ndarray, values: dict[str, np.ndarray]
) -> tuple[bytes, int]:
    # Time-major, as the rollup job writes them hour after hour.
    g_count, b_count = values["samples"].shape
    columns: list[tuple[str, np.ndarray]] = [
        ("i8", np.tile(fleet.gpu_ids, b_count)),
        ("i4", np.full(g_count * b_count, resolution)),
        ("ts", np.repeat(pg_micros(buckets), g_count)),
    ]
    columns += [(kind, values[name].T.ravel()) for name, kind in GPU_ROLLUP_COLUMNS]
    return binary_rows(columns), g_count * b_count


def inference_rollup_lines(
    fleet: Fleet, resolution: int, buckets: np.ndarray, values: dict[str, np.ndarray]
) -> Iterator[str]:
    stamps = iso(buckets)
    cols = {k: v.tolist() for k, v in values.items()}
    for b, stamp in enumerate(stamps):
        for d, dep_id in enumerate(fleet.deployment_ids):
            samples = cols["samples"][d][b]
            memory = ", ".join(
                f'"{fleet.uuids[i]}": [{int(fleet.mem_used[i]) * samples}, {samples}]'
                for i in fleet.deployment_gpus[d]
            )
            hists = "\t".join(
                hist_json(spec, cols[spec.name][d][b], cols[spec.name + ".sum"][d][b])
                for spec in HISTS
            )
            yield (
                f"{dep_id}\t{resolution}\t{stamp}\t{samples}\t{cols['present_s'][d][b]}"
                f"\t{cols['requests_ok'][d][b]}\t{cols['requests_error'][d][b]}"
                f"\t{cols['requests_aborted'][d][b]}\t{cols['prompt_tokens'][d][b]}"
                f"\t{cols['generation_tokens'][d][b]}\t{cols['running_max'][d][b]}"
                f"\t{cols['waiting_max'][d][b]}\t{cols['kv_cache_sum'][d][b]}"
                f"\t{cols['kv_cache_n'][d][b]}\t{cols['prefix_cache_hits'][d][b]}"
                f"\t{cols['prefix_cache_queries'][d][b]}\t{cols['preemptions'][d][b]}"
                f"\t{hists}\t{{{memory}}}\n"
            )


def inference_sample_lines(fleet: Fleet, chunk: Chunk, interval: int) -> Iterator[str]:
    stamps = iso(chunk.t)
    cols = {k: v.tolist() for k, v in chunk.inf.items()}
    counts = {s.name: chunk.hists[s.name][0].tolist() for s in HISTS}
    sums = {s.name: chunk.hists[s.name][1].tolist() for s in HISTS}
    for k, stamp in enumerate(stamps):
        for d, dep_id in enumerate(fleet.deployment_ids):
            hists = "\t".join(
                hist_json(spec, counts[spec.name][d][k], sums[spec.name][d][k]) for spec in HISTS
            )
            yield (
                f"{dep_id}\t{stamp}\t{float(interval)}\t{cols['requests_ok'][d][k]}"
                f"\t{cols['requests_error'][d][k]}\t0\t{cols['prompt_tokens'][d][k]}"
                f"\t{cols['generation_tokens'][d][k]}\t{cols['running'][d][k]}"
                f"\t{cols['waiting'][d][k]}\t{cols['kv_cache_usage'][d][k]}"
                f"\t{cols['prefix_cache_hits'][d][k]}\t{cols['prefix_cache_queries'][d][k]}"
                f"\t{cols['preemptions'][d][k]}\t{hists}\t{fleet.memory_json[d]}\n"
            )


def cost_lines(
    fleet: Fleet,
    hours: np.ndarray,
    gpu_hours: dict[str, np.ndarray],
    dep_requests: np.ndarray,
) -> Iterator[str]:
    """As costs.attribution does: one deployment per GPU takes all of its present time,
    rounded down to the micro-dollar; idle takes the rest (all of an unowned GPU)."""
    stamps = iso(hours)
    present = gpu_hours["present_s"].tolist()
    energy = gpu_hours["energy_j"].tolist()
    requests = dep_requests.tolist()
    rate = f"{RATE_USD:.6f}"
    for h, stamp in enumerate(stamps):
        for g, gpu_id in enumerate(fleet.gpu_ids.tolist()):
            seconds = min(present[g][h], float(HOUR_S))
            if seconds <= 0:
                continue
            # Hours first, then the rate: the same Decimal rounding as Rate.cost.
            total = (RATE_USD * (Decimal(repr(seconds)) / HOUR_S)).quantize(MICRO, ROUND_DOWN)
            joules = energy[g][h]
            tail = f"\t{rate}\tt\t{fleet.pricing}\n"
            whole = f"{total}\t{seconds / HOUR_S}\t{joules / 3600}"
            d = int(fleet.owner[g])
            if d < 0:
                yield f"{stamp}\t{gpu_id}\t\\N\t{whole}\tf{tail}"
                continue
            held = "t" if requests[d][h] == 0 else "f"
            yield f"{stamp}\t{gpu_id}\t{fleet.deployment_ids[d]}\t{whole}\t{held}{tail}"
            yield f"{stamp}\t{gpu_id}\t\\N\t0.000000\t0.0\t0.0\tf{tail}"


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
        started = time.perf_counter()
        conn.commit()
        tally.add("commit", 0, time.perf_counter() - started)
    return tally


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


# ------------------------------------------------------------------------ HTTP


class Client:
    """One logged-in browser: cookies kept, its connection reopened when the server closes it."""

    def __init__(self, port: int) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
        self.cookies: dict[str, str] = {}

    def request(
        self, method: str, path: str, body: str | None = None, headers: dict[str, str] | None = None
    ) -> tuple[int, bytes]:
        sent = {"Connection": "keep-alive", **(headers or {})}
        if self.cookies:
            sent["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        self.conn.request(method, path, body, sent)
        resp = self.conn.getresponse()
        data = resp.read()
        for header in resp.headers.get_all("Set-Cookie") or []:
            jar: SimpleCookie = SimpleCookie()
            jar.load(header)
            self.cookies.update({k: m.value for k, m in jar.items()})
        return resp.status, data

    def login(self) -> None:
        status, page = self.request("GET", "/accounts/login/")
        token = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', page)
        if status != 200 or token is None or "csrftoken" not in self.cookies:
            raise SystemExit(f"login page: {status}, no CSRF token:\n{page[:500]!r}")
        body = urlencode(
            {
                "username": USERNAME,
                "password": PASSWORD,
                "csrfmiddlewaretoken": token.group(1).decode(),
                "next": "/",
            }
        )
        form = {"Content-Type": "application/x-www-form-urlencoded"}
        status, page = self.request("POST", "/accounts/login/", body, form)
        if status != 302 or "sessionid" not in self.cookies:
            raise SystemExit(f"login failed: {status}\n{page[:500]!r}")

    def close(self) -> None:
        self.conn.close()


@dataclass
class PageTiming:
    path: str
    status: int
    ms: list[float] = field(default_factory=list)
    size: int = 0

    def pct(self, q: float) -> float:
        ordered = sorted(self.ms)
        return ordered[max(0, math.ceil(q * len(ordered)) - 1)]

    @property
    def ok(self) -> bool:
        return self.status == 200 and bool(self.ms)


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


def warm_up(port: int, cookies: dict[str, str], url: str, workers: int) -> tuple[int, int]:
    """Each page once on every worker (imports, templates and connections are per process):
    as many requests at once as there are workers, twice. Returns the status and size."""

    def one(_: int) -> tuple[int, int]:
        client = Client(port)
        client.cookies = dict(cookies)
        status, body = client.request("GET", url)
        client.close()
        return status, len(body)

    with ThreadPoolExecutor(workers) as pool:
        results = [r for _ in range(2) for r in pool.map(one, range(workers))]
    return next((r for r in results if r[0] != 200), results[0])


def time_pages(
    ports: Sequence[int], paths: Sequence[str], requests: int, workers: int
) -> list[list[PageTiming]]:
    """Each page on each server: warm-ups, then round after round of one timed request
    per page and server. Interleaved, a passing hiccup (a checkpoint, another process)
    lands on every page and on both databases alike, not on one page's samples."""
    clients = [Client(port) for port in ports]
    timings: list[list[PageTiming]] = []
    for client, port in zip(clients, ports, strict=True):
        client.login()
        timings.append([])
        for path in paths:
            status, size = warm_up(port, client.cookies, f"{path}?range={RANGE}", workers)
            timings[-1].append(PageTiming(path, status, size=size))
    servers = list(zip(clients, timings, strict=True))
    for round_ in range(requests):
        for page in range(len(paths)):
            # Alternate which server goes first: the second of a pair may find warmer caches.
            for client, server in servers if round_ % 2 == 0 else servers[::-1]:
                timing = server[page]
                if timing.status != 200:
                    continue
                started = time.perf_counter()
                status, body = client.request("GET", f"{timing.path}?range={RANGE}")
                timing.ms.append((time.perf_counter() - started) * 1000)
                timing.status, timing.size = status, len(body)
    for client in clients:
        client.close()
    return timings


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


def vacuum_analyze(url: str) -> float:
    # Steady state: autovacuum has set hint bits and the visibility map on old data,
    # so the first timed requests neither write hint bits nor race autovacuum.
    started = time.perf_counter()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("VACUUM (ANALYZE)")
    checkpoint(url)
    return time.perf_counter() - started


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
