"""Recommendations built by hand for the pages: a node, a GPU, a deployment, and rows
whose savings and evidence are easy to check by eye."""

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.utils import timezone

from collectors.models import Deployment, Gpu, Node
from costs.models import CostRecord
from recommendations.choices import Confidence, RecommendationStatus
from recommendations.models import Recommendation
from telemetry.choices import Resolution
from telemetry.models import GpuRollup

CHART = {
    "title": "Batch in flight, by hour",
    "kind": "line",
    "x": ["2026-11-20T00:00:00+00:00", "2026-11-20T01:00:00+00:00", "2026-11-20T02:00:00+00:00"],
    "x_title": "hour",
    "y_title": "requests running",
    "series": [{"name": "p95 running", "y": [3.0, 4.5, None]}],
    "lines": [{"name": "max batch 256", "y": 256}],
}


def small_fleet() -> tuple[Node, Gpu, Deployment]:
    node = Node.objects.create(name="gpu-node-1")
    gpu = Gpu.objects.create(node=node, uuid="GPU-a", index=0, model_name="H100 SXM")
    dep = Deployment.objects.create(node=node, name="chat", model="llama-8b")
    dep.gpus.add(gpu)
    return node, gpu, dep


def rec(
    key: str,
    usd: str,
    rule: str = "idle_gpus",
    status: str = RecommendationStatus.OPEN,
    **fields: Any,
) -> Recommendation:
    now = timezone.now()
    values: dict[str, Any] = {
        "rule": rule,
        "fingerprint": f"{rule}:{key}",
        "title": f"Do {key}",
        "action": f"Do {key} now.",
        "monthly_saving_usd": Decimal(usd),
        "arithmetic": f"{key}: $1 x 30.4375 = ${usd} per month",
        "confidence": Confidence.HIGH,
        "status": status,
        "first_seen_at": now - timedelta(days=3),
        "last_seen_at": now,
    }
    values.update(fields)
    return Recommendation.objects.create(**values)


def hourly_costs(gpu: Gpu, dep: Deployment | None, start: datetime, hours: int, usd: str) -> None:
    CostRecord.objects.bulk_create(
        CostRecord(
            hour=start + timedelta(hours=h),
            gpu=gpu,
            deployment=dep,
            usd=Decimal(usd),
            gpu_hours=1.0,
            rate_usd_per_hour=Decimal(usd),
            pricing="test",
        )
        for h in range(hours)
    )


def idle_week(gpu: Gpu, end: datetime) -> None:
    """A week of hours ending at `end` with the GPU 2% busy: the idle-GPU rule fires."""
    start = end - timedelta(days=7)
    GpuRollup.objects.bulk_create(
        GpuRollup(
            gpu=gpu,
            resolution=Resolution.HOUR,
            bucket=start + timedelta(hours=h),
            samples=360,
            present_s=3600,
            util_sum=2.0 * 360,
            util_n=360,
        )
        for h in range(7 * 24)
    )
    hourly_costs(gpu, None, start, 7 * 24, "2.50")
