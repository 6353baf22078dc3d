"""The ingest benchmark's workload: batches of realistic GPU samples, built and
encoded before any clock starts, with the rows they carry for the COPY baseline."""

from __future__ import annotations

import gzip
import random
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import orjson

# The 15 measurements of GpuSampleIn, in its field order (= the table's column order).
FLOAT_FIELDS = frozenset(
    {
        "util_gpu",
        "util_mem",
        "power_w",
        "power_limit_w",
        "energy_j",
        "temp_c",
        "pcie_rx_bytes_s",
        "pcie_tx_bytes_s",
    }
)
MEASUREMENTS = (
    "util_gpu",
    "util_mem",
    "mem_used_bytes",
    "mem_total_bytes",
    "power_w",
    "power_limit_w",
    "energy_j",
    "temp_c",
    "sm_clock_mhz",
    "mem_clock_mhz",
    "throttle_reasons",
    "pcie_rx_bytes_s",
    "pcie_tx_bytes_s",
    "ecc_corrected",
    "ecc_uncorrected",
)
COLUMNS = ("gpu_id", "ts", *MEASUREMENTS)
# PostgreSQL types of COLUMNS, for the binary COPY baseline (--raw-format binary).
COLUMN_TYPES = (
    "int8",
    "timestamptz",
    *(
        "float8" if m in FLOAT_FIELDS else "int4" if m.endswith("_mhz") else "int8"
        for m in MEASUREMENTS
    ),
)

GPU_MODEL = "NVIDIA H100 80GB HBM3"
GPU_MEMORY = 85_520_809_984
NODE_NAME = "bench-node-0"


@dataclass
class Workload:
    """Pre-built request bodies and the rows they carry (GPU named by uuid)."""

    bodies: list[bytes]
    rows: list[list[tuple[Any, ...]]]  # per batch: (uuid, ts, *measurements)
    samples: int
    plain_bytes: int = 0


def gpu_uuids(count: int) -> list[str]:
    return [f"GPU-{uuid.uuid5(uuid.NAMESPACE_URL, f'inferscope-bench/{i}')}" for i in range(count)]


def inventory(uuids: Sequence[str]) -> dict[str, Any]:
    return {
        "nodes": [{"name": NODE_NAME, "hostname": "bench-node-0.local", "labels": {"rack": "b1"}}],
        "gpus": [
            {
                "uuid": u,
                "node": NODE_NAME,
                "index": i,
                "model": GPU_MODEL,
                "memory_total_bytes": GPU_MEMORY,
            }
            for i, u in enumerate(uuids)
        ],
    }


def _sample(rng: random.Random, energy: float) -> dict[str, Any]:
    """Plausible NVML readings of a busy H100 (floats and ints as an agent sends them)."""
    util = float(rng.randint(35, 100))
    power = round(rng.uniform(180.0, 690.0), 3)
    return {
        "util_gpu": util,
        "util_mem": float(rng.randint(10, int(util))),
        "mem_used_bytes": rng.randint(20, 79) * 1_073_741_824 + rng.randint(0, 1 << 20),
        "mem_total_bytes": GPU_MEMORY,
        "power_w": power,
        "power_limit_w": 700.0,
        "energy_j": round(energy, 3),
        "temp_c": float(rng.randint(38, 83)),
        "sm_clock_mhz": rng.choice((1755, 1830, 1890, 1980)),
        "mem_clock_mhz": 2619,
        "throttle_reasons": rng.choice((0, 0, 0, 1, 4)),
        "pcie_rx_bytes_s": float(rng.randint(1_000_000, 2_000_000_000)),
        "pcie_tx_bytes_s": float(rng.randint(1_000_000, 900_000_000)),
        "ecc_corrected": rng.choice((0, 0, 0, 2)),
        "ecc_uncorrected": 0,
    }


def build_workload(
    batches: int, batch_size: int, gpus: int, start: datetime, tag: str, compress: bool
) -> Workload:
    """`batches` bodies of `batch_size` samples: `gpus` GPUs x distinct timestamps, 1 s apart."""
    rng = random.Random(f"{tag}/{batches}/{batch_size}")
    uuids = gpu_uuids(gpus)
    inv = inventory(uuids)
    energy = dict.fromkeys(uuids, 1.0e7)
    bodies: list[bytes] = []
    all_rows: list[list[tuple[Any, ...]]] = []
    plain_bytes = 0
    step = 0
    for b in range(batches):
        samples: list[dict[str, Any]] = []
        rows: list[tuple[Any, ...]] = []
        while len(samples) < batch_size:
            ts = start + timedelta(seconds=step)
            step += 1
            for u in uuids[: batch_size - len(samples)]:
                values = _sample(rng, energy[u])
                energy[u] += values["power_w"]
                samples.append({"gpu": u, "ts": ts, **values})
                rows.append((u, ts, *(values[m] for m in MEASUREMENTS)))
        body = orjson.dumps(
            {
                "schema_version": 1,
                "batch_id": f"bench-{tag}-{b:06d}-{uuid.uuid4().hex[:12]}",
                "agent_version": "bench/1",
                "inventory": inv,
                "gpu_samples": samples,
            }
        )
        plain_bytes += len(body)
        bodies.append(gzip.compress(body, compresslevel=6) if compress else body)
        all_rows.append(rows)
    return Workload(bodies, all_rows, batches * batch_size, plain_bytes)
