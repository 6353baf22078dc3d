"""Recommendations built by hand for the pages: a node, a GPU, a deployment, and rows
whose savings and evidence are easy to check by eye."""

from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.utils import timezone

from collectors.models import Deployment, Gpu, Node
from recommendations.choices import Confidence, RecommendationStatus
from recommendations.models import Recommendation
from tests.builders.fleet import deployment

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
    """gpu-node-1 with one H100 SXM, GPU-a, serving `chat` (llama-8b)."""
    dep = deployment("chat", uuids=["GPU-a"], model="llama-8b")
    return dep.node, dep.gpus.get(), dep


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
