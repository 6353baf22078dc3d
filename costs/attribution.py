"""Split each GPU-hour's price between the deployments on the GPU, and idle.

One deployment on a GPU gets all of it for the time it ran there. Deployments
sharing a GPU get their measured share of its memory (gpu_memory from the
agent), or equal shares when that was not measured. What nobody holds is idle.
Amounts are rounded down to the micro-dollar and idle takes the remainder, so
deployments + idle = the GPU's price exactly, and nothing is negative.

A deployment's share is itself split: the part of its time with requests
running or finishing is active, the rest idle-held (it held the GPU and served
nothing). The idle-held dollars are the share less the active dollars, rounded
down, so active + idle-held + idle = the bill, to the micro-dollar.
"""

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_DOWN, Decimal

from django.db import transaction

from collectors.models import Deployment, Gpu
from costs.constants import ROLLUP_HOURS_PER_TRANSACTION, USD_PLACES
from costs.locks import cost_lock
from costs.models import CostRecord, HourlySpend
from costs.pricing import PriceList, Rate
from telemetry.choices import Resolution
from telemetry.models import GpuRollup, InferenceRollup

_QUANTUM = Decimal(1).scaleb(-USD_PLACES)


@dataclass(frozen=True)
class Claim:
    """A deployment seen on a GPU in an hour."""

    deployment_id: int
    present_s: float
    memory_bytes: float | None
    active_s: float

    @property
    def active_fraction(self) -> float:
        return min(1.0, self.active_s / self.present_s) if self.present_s > 0 else 0.0


@dataclass(frozen=True)
class Share:
    deployment_id: int | None  # None: idle
    fraction: float
    usd: Decimal
    active_fraction: float = 0.0

    @property
    def idle_held_usd(self) -> Decimal:
        if self.deployment_id is None:
            return Decimal(0)
        return self.usd - _down(self.usd * Decimal(repr(self.active_fraction)))


def _down(value: Decimal) -> Decimal:
    return value.quantize(_QUANTUM, rounding=ROUND_DOWN)


def fractions(
    claims: Sequence[Claim], gpu_present_s: float, memory_total: float | None
) -> dict[int, float]:
    """Each deployment's fraction of the GPU's present time; they sum to at most 1."""
    if not claims or gpu_present_s <= 0:
        return {}
    if len(claims) == 1:
        weights = {claims[0].deployment_id: 1.0}
    elif all(c.memory_bytes is not None for c in claims):
        held = sum(c.memory_bytes or 0.0 for c in claims)
        whole = max(held, memory_total or 0.0)
        weights = {
            c.deployment_id: (c.memory_bytes or 0.0) / whole if whole else 0.0 for c in claims
        }
        if not whole:
            weights = {c.deployment_id: 1 / len(claims) for c in claims}
    else:
        weights = {c.deployment_id: 1 / len(claims) for c in claims}
    return {
        c.deployment_id: weights[c.deployment_id] * min(1.0, c.present_s / gpu_present_s)
        for c in claims
    }


def split(
    price: Decimal, claims: Sequence[Claim], gpu_present_s: float, memory_total: float | None
) -> list[Share]:
    """The GPU's price for the hour as deployment shares plus one idle share."""
    total = _down(price)
    of = fractions(claims, gpu_present_s, memory_total)
    shares = []
    for claim in claims:
        fraction = of.get(claim.deployment_id, 0.0)
        usd = min(_down(total * Decimal(repr(fraction))), total)
        shares.append(Share(claim.deployment_id, fraction, usd, claim.active_fraction))
    attributed = sum((s.usd for s in shares), Decimal(0))
    idle_fraction = max(0.0, 1.0 - sum(s.fraction for s in shares))
    # Float fractions can sum a hair over 1; the money cannot.
    if attributed > total:
        shares = [Share(s.deployment_id, s.fraction, Decimal(0), s.active_fraction) for s in shares]
        attributed = Decimal(0)
    shares.append(Share(None, idle_fraction, total - attributed))
    return shares


def attribute_hours(hours: Sequence[datetime]) -> int:
    """Recompute the cost records of these hours; returns the number of rows written."""
    prices = PriceList()
    written = 0
    for hour in hours:
        with transaction.atomic():
            records = _records_for_hour(hour, prices)
            CostRecord.objects.filter(hour=hour).delete()
            CostRecord.objects.bulk_create(records, batch_size=2000)
            HourlySpend.objects.filter(hour=hour).delete()
            HourlySpend.objects.bulk_create(hourly_spend(hour, records))
            written += len(records)
    return written


def hourly_spend(hour: datetime, records: Sequence[CostRecord]) -> list[HourlySpend]:
    """The hour's records summed per deployment (and idle), for the spend charts."""
    sums: dict[int | None, HourlySpend] = {}
    for record in records:
        row = sums.get(record.deployment_id)
        if row is None:
            row = sums[record.deployment_id] = HourlySpend(
                hour=hour,
                deployment_id=record.deployment_id,
                usd=Decimal(0),
                idle_held_usd=Decimal(0),
                gpu_hours=0.0,
                idle_held_gpu_hours=0.0,
                energy_wh=0.0,
            )
        row.usd += record.usd
        row.idle_held_usd += record.idle_held_usd
        row.gpu_hours += record.gpu_hours
        row.idle_held_gpu_hours += record.idle_held_hours
        row.energy_wh += record.energy_wh
    return list(sums.values())


def _records_for_hour(hour: datetime, prices: PriceList) -> list[CostRecord]:
    gpu_rows = list(
        GpuRollup.objects.filter(resolution=Resolution.HOUR, bucket=hour).values_list(
            "gpu_id", "present_s", "energy_j", "mem_total"
        )
    )
    if not gpu_rows:
        return []
    gpus = {
        g["id"]: g
        for g in Gpu.objects.filter(pk__in=[r[0] for r in gpu_rows]).values(
            "id", "uuid", "node_id", "model_name", "memory_total_bytes", "gpu_fraction"
        )
    }
    claims = _claims(hour, {g["uuid"]: (g["id"], g["node_id"]) for g in gpus.values()})
    records = []
    for gpu_id, present_s, energy_j, mem_total in gpu_rows:
        gpu = gpus[gpu_id]
        present_s = min(present_s, 3600.0)
        if present_s <= 0:
            continue
        rate = prices.rate(gpu["node_id"], gpu["model_name"], hour.date())
        # A MIG instance costs its share of the physical GPU's hour; energy is
        # already its share (the exporter apportions the GPU's counter).
        fraction = gpu["gpu_fraction"]
        hours = Decimal(repr(present_s)) / 3600 * Decimal(repr(fraction))
        energy_kwh = Decimal(repr(energy_j)) / 3_600_000
        price = rate.cost(hours, energy_kwh)
        memory_total = mem_total or gpu["memory_total_bytes"]
        for share in split(price, claims.get(gpu_id, []), present_s, memory_total):
            records.append(_record(hour, gpu_id, share, present_s * fraction, energy_j, rate))
    return records


def _record(
    hour: datetime, gpu_id: int, share: Share, present_s: float, energy_j: float, rate: Rate
) -> CostRecord:
    gpu_hours = present_s / 3600 * share.fraction
    held_fraction = 0.0 if share.deployment_id is None else 1.0 - share.active_fraction
    return CostRecord(
        hour=hour,
        gpu_id=gpu_id,
        deployment_id=share.deployment_id,
        usd=share.usd,
        gpu_hours=gpu_hours,
        energy_wh=energy_j / 3600 * share.fraction,
        idle_held_usd=share.idle_held_usd,
        idle_held_hours=gpu_hours * held_fraction,
        rate_usd_per_hour=rate.usd_per_hour,
        priced=rate.priced,
        pricing=rate.description[:200],
    )


def _claims(hour: datetime, gpus_by_uuid: dict[str, tuple[int, int]]) -> dict[int, list[Claim]]:
    """Which deployments ran on which GPU in the hour, from their hourly rollups.

    A deployment that reported its GPU memory is on exactly those GPUs of its own
    node; one that did not is taken to be on the GPUs its inventory lists. Memory
    claimed on another node's GPU is ignored: ingest refuses it, and rows stored
    before it did must not move one team's GPU cost onto another.
    """
    rows = list(
        InferenceRollup.objects.filter(resolution=Resolution.HOUR, bucket=hour).values_list(
            "deployment_id",
            "deployment__node_id",
            "present_s",
            "gpu_memory",
            "active_s",
        )
    )
    own: dict[int, list[tuple[int, float]]] = {}
    for dep_id, node_id, _, memory, _ in rows:
        own[dep_id] = [
            (gpus_by_uuid[uuid][0], used / n)
            for uuid, (used, n) in (memory or {}).items()
            if uuid in gpus_by_uuid and gpus_by_uuid[uuid][1] == node_id
        ]
    unmeasured = [dep_id for dep_id, measured in own.items() if not measured]
    listed: dict[int, list[int]] = defaultdict(list)
    for dep_id, gpu_id in Deployment.gpus.through.objects.filter(
        deployment_id__in=unmeasured
    ).values_list("deployment_id", "gpu_id"):
        listed[dep_id].append(gpu_id)
    claims: dict[int, list[Claim]] = defaultdict(list)
    for dep_id, _, present_s, _, active_s in rows:
        for gpu_id, memory_used in own[dep_id]:
            claims[gpu_id].append(Claim(dep_id, present_s, memory_used, active_s))
        if not own[dep_id]:
            for gpu_id in listed.get(dep_id, []):
                claims[gpu_id].append(Claim(dep_id, present_s, None, active_s))
    return claims


def recompute_since(since: datetime) -> int:
    """Re-price every costed hour from `since` on, after a price changed.

    It waits for a running rollup (which also rewrites cost records) to finish.
    """
    hours = _costed_hours(since)
    written = 0
    # A few hours per transaction, as the rollup job does: ingest on SQLite and
    # the rollup job wait for each one.
    for first in range(0, len(hours), ROLLUP_HOURS_PER_TRANSACTION):
        with transaction.atomic():
            cost_lock(wait=True)
            written += attribute_hours(hours[first : first + ROLLUP_HOURS_PER_TRANSACTION])
    return written


def _costed_hours(since: datetime) -> list[datetime]:
    return sorted(
        GpuRollup.objects.filter(resolution=Resolution.HOUR, bucket__gte=since)
        .values_list("bucket", flat=True)
        .distinct()
    )
