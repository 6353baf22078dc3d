"""A GPU's minute rollups stored up to NOW, and a spike in them scored: the anomaly pages'
and the scoring tests' data."""

import math
import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from anomaly.choices import AnomalyKind
from anomaly.models import Anomaly
from anomaly.scoring import FAMILIES, score_family
from collectors.models import Gpu, Node
from costs.models import CostRecord
from telemetry.models import GpuRollup
from tests.builders.hours import gpu_minute, save_cost_records

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def util(ts: datetime, rng: random.Random) -> float:
    hour = ts.hour + ts.minute / 60
    return 50 + 30 * math.sin(2 * math.pi * hour / 24) + rng.gauss(0, 1.5)


def store_gpu(override: dict[int, float | None] | None = None, days: int = 3) -> Gpu:
    """Minute rollups of one GPU up to NOW; `override` sets minutes before NOW (None: no row)."""
    node = Node.objects.create(name="node-a")
    gpu = Gpu.objects.create(node=node, uuid="a0", index=0, model_name="NVIDIA H100 80GB HBM3")
    rng = random.Random(7)
    rows = []
    start = NOW - timedelta(days=days)
    for minute in range(days * 1440):
        ts = start + timedelta(minutes=minute)
        back = (NOW - ts) // timedelta(minutes=1)
        value = util(ts, rng)
        if override and back in override:
            if override[back] is None:
                continue
            value = override[back]
        rows.append(
            gpu_minute(
                gpu,
                ts,
                value,
                power_sum=300 * 6,
                power_n=6,
                temp_sum=60 * 6,
                temp_n=6,
            )
        )
    GpuRollup.objects.bulk_create(rows, batch_size=5000)
    return gpu


def scored_spike() -> Anomaly:
    """Three days of a GPU's utilization with a spike 20 minutes before NOW, scored."""
    store_gpu({20: 100.0})
    score_family(FAMILIES[0], NOW + FAMILIES[0].settle)
    return Anomaly.objects.get(metric="gpu.util", kind=AnomalyKind.SPIKE)


def hourly_spend_up_to_now(jump: bool) -> None:
    """Two weeks of one GPU's hourly cost up to NOW, $40 +- $10 over the day; with `jump`,
    the last 3 hours cost $400 (someone scaled out ten times)."""
    gpu = Gpu.objects.create(node=Node.objects.create(name="node-a"), uuid="a0", index=0)
    rng = random.Random(3)
    records = []
    for hour in range(14 * 24):
        ts = NOW - timedelta(hours=14 * 24 - hour)
        usd = 40 + 10 * math.sin(2 * math.pi * ts.hour / 24) + rng.gauss(0, 0.5)
        if jump and hour >= 14 * 24 - 3:
            usd = 400
        records.append(
            CostRecord(
                hour=ts,
                gpu=gpu,
                usd=Decimal(f"{usd:.6f}"),
                gpu_hours=1,
                rate_usd_per_hour=2,
                pricing="test",
            )
        )
    # Stored as attribution stores them (with their hourly sums), which the series reads.
    save_cost_records(records)
