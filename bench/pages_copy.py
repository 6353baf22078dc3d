"""Rows for PostgreSQL's COPY from the generated arrays: fixed-width tables as numpy
records in COPY's binary format, the rest (JSON histograms, GPU memory maps,
decimal costs) as text lines.

Each column list or line builder here must follow its table's column order, and
the costs must round as costs.attribution does; the timing of every COPY is
tallied so the seeding report shows where the minutes went.
"""

from __future__ import annotations

import struct
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_DOWN, Decimal
from typing import Any

import numpy as np
import psycopg

from bench.pages_fleet import RATE_USD, Fleet
from bench.pages_generate import HISTS, HOUR_S, Chunk, hist_json

MICRO = Decimal("0.000001")
PG_EPOCH_S = 946_684_800  # 2000-01-01, the zero of PostgreSQL's binary timestamps
COPY_HEADER = b"PGCOPY\n\xff\r\n\x00" + struct.pack(">ii", 0, 0)
COPY_TRAILER = struct.pack(">h", -1)
BINARY_TYPES = {"i4": ">i4", "i8": ">i8", "f8": ">f8", "ts": ">i8"}
TEXT_BATCH_ROWS = 20_000


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


# ------------------------------------------------------------------------ columns and rows


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
    "hour, gpu_id, deployment_id, usd, gpu_hours, energy_wh, idle_held_usd, idle_held_hours,"
    " rate_usd_per_hour, priced, pricing"
)


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
                yield f"{stamp}\t{gpu_id}\t\\N\t{whole}\t0\t0{tail}"
                continue
            # An hour that served nothing was held idle throughout.
            held = f"{total}\t{seconds / HOUR_S}" if requests[d][h] == 0 else "0\t0"
            yield f"{stamp}\t{gpu_id}\t{fleet.deployment_ids[d]}\t{whole}\t{held}{tail}"
            yield f"{stamp}\t{gpu_id}\t\\N\t0.000000\t0.0\t0.0\t0\t0{tail}"
