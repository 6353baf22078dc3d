"""GPU health from raw samples: throttling held for N minutes, new uncorrected ECC
errors, a GPU that stopped reporting while the rest of its node still does."""

from datetime import datetime, timedelta
from typing import Any

from django.db.models import Case, Count, F, Max, Min, Sum, When
from django.db.models.lookups import GreaterThan

from alerts.choices import HealthCondition
from alerts.conditions.base import Breach
from alerts.models import Rule
from collectors.models import Gpu, GpuSample
from telemetry.constants import THROTTLE_MASK

# ECC counters and presence are read over this window.
RECENT = timedelta(minutes=10)
# A GPU is gone when its node reported within this long and it did not.
GONE_AFTER = timedelta(minutes=5)


def health_breaches(rule: Rule, now: datetime, reads: dict[Any, Any]) -> dict[str, Breach]:
    if rule.condition == HealthCondition.THROTTLING:
        return _throttling(now, timedelta(minutes=float(rule.value or 0)))
    if rule.condition == HealthCondition.ECC:
        return _ecc(now)
    return _gone(now)


def _throttling(now: datetime, held: timedelta) -> dict[str, Breach]:
    rows = (
        GpuSample.objects.filter(ts__gt=now - held, ts__lte=now, throttle_reasons__isnull=False)
        .values("gpu_id")
        .annotate(
            total=Count("id"),
            # Only reasons that slow work count: not idle, not application clocks.
            throttled=Sum(
                Case(
                    When(GreaterThan(F("throttle_reasons").bitand(THROTTLE_MASK), 0), then=1),
                    default=0,
                )
            ),
            first=Min("ts"),
        )
    )
    out = {}
    for r in rows:
        # Every sample of the window throttled, and the window mostly covered.
        if r["total"] and r["throttled"] == r["total"] and now - r["first"] >= held * 0.8:
            out[f"gpu:{r['gpu_id']}"] = Breach(
                held.total_seconds() / 60,
                f"clocks throttled (thermal or power) for over {held.total_seconds() / 60:.0f}"
                " minutes",
            )
    return out


def _ecc(now: datetime) -> dict[str, Breach]:
    window = GpuSample.objects.filter(
        ts__gt=now - RECENT, ts__lte=now, ecc_uncorrected__isnull=False
    )
    # Most GPUs' counters did not move: only the others are read sample by sample.
    moved = [
        r["gpu_id"]
        for r in window.values("gpu_id").annotate(
            low=Min("ecc_uncorrected"), high=Max("ecc_uncorrected")
        )
        if r["high"] > r["low"]
    ]
    new: dict[int, int] = {}
    last: dict[int, int] = {}
    rows = window.filter(gpu_id__in=moved).order_by("gpu_id", "ts")
    for gpu_id, count in rows.values_list("gpu_id", "ecc_uncorrected"):
        if count is None:
            continue
        before = last.get(gpu_id)
        # A counter that went down was reset (a driver reload): not new errors.
        if before is not None and count > before:
            new[gpu_id] = new.get(gpu_id, 0) + count - before
        last[gpu_id] = count
    return {
        f"gpu:{gpu_id}": Breach(
            float(errors),
            f"{errors} new uncorrected ECC errors in the last"
            f" {RECENT.total_seconds() / 60:.0f} minutes: drain it and check its memory",
            "critical",
        )
        for gpu_id, errors in new.items()
    }


def _gone(now: datetime) -> dict[str, Breach]:
    seen = dict(
        GpuSample.objects.filter(ts__gt=now - RECENT, ts__lte=now)
        .values("gpu_id")
        .annotate(last=Max("ts"))
        .values_list("gpu_id", "last")
    )
    node_of = dict(Gpu.objects.values_list("pk", "node_id"))
    node_last: dict[int, datetime] = {}
    for gpu_id, last in seen.items():
        node = node_of.get(gpu_id)
        if node is not None and (node not in node_last or last > node_last[node]):
            node_last[node] = last
    out = {}
    for gpu_id, node in node_of.items():
        node_seen = node_last.get(node)
        if node_seen is None or now - node_seen > GONE_AFTER:
            continue  # the whole node is quiet: a silence rule's business
        last = seen.get(gpu_id)
        if last is None or node_seen - last > GONE_AFTER:
            out[f"gpu:{gpu_id}"] = Breach(
                None,
                "no longer reported by NVML while the rest of its node still is:"
                " it may have fallen off the bus",
                "critical",
            )
    return out
