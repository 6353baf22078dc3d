"""The bench's data as numpy arrays, one UTC day at a time: raw GPU and inference
samples under a daily and weekly load, vLLM latency histograms, and their 1-minute
rollups (pages_seed regroups those into hours and days).

The rollups are summed from the very arrays the raw samples come from, so the two
agree without running the project's rollup job, which over 30 days would take too
long. Formatting rows for COPY is pages_copy's: these arrays have no column order.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np

from bench.pages_fleet import GIB, Fleet
from telemetry.constants import THROTTLE_MASK

DAY_S = 86_400
HOUR_S = 3_600
# SW power cap (in the rollup's throttle mask) and GPU idle (not in it).
THROTTLE_POWER_CAP = 0x4
THROTTLE_IDLE = 0x1
# Load in this many steps selects a precomputed histogram shape per sample.
LOAD_LEVELS = 20


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


# ------------------------------------------------------------------------ samples


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


# ------------------------------------------------------------------------ rollups


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


GPU_MAXES = frozenset({"util_max", "power_max", "mem_used_max", "mem_total", "temp_max"})
INF_SUMS = (
    "requests_ok",
    "requests_error",
    "requests_aborted",
    "prompt_tokens",
    "generation_tokens",
)
INF_EXTRA_SUMS = ("prefix_cache_hits", "prefix_cache_queries", "preemptions")
INF_MAXES = frozenset({"running_max", "waiting_max"})


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
