"""A day of the hand-checked fleet ending at this hour, rolled up and priced, and the
pages to read it on: the dashboard's and the browser tests' data."""

from datetime import UTC, datetime, timedelta

from django.utils import timezone

from anomaly.models import Anomaly
from collectors.models import Deployment, Gpu, InferenceSample
from costs.pipeline import rollup_pending
from tests.costs.fleet import set_prices, store_day
from tests.snapshots import snapshot

# chat's TTFT every minute: 4 under 100 ms, 4 under 250 ms, 2 under 500 ms.
TTFT = {"bounds": [0.1, 0.25, 0.5, 1.0], "counts": [4, 4, 2, 0, 0], "sum": 1.9}


def this_hour() -> datetime:
    return datetime.now(UTC).replace(minute=0, second=0, microsecond=0)


def store_page_fleet() -> datetime:
    """The hand-checked fleet's day (tests/costs/fleet.py), ending at the start of this hour,
    rolled up and priced, with one critical anomaly; returns that day's start."""
    day = this_hour() - timedelta(days=1)
    return snapshot(("page fleet", day), lambda: _store_page_fleet(day))


def _store_page_fleet(day: datetime) -> datetime:
    store_day(day=day)
    InferenceSample.objects.filter(deployment__name="chat").update(
        ttft_hist=TTFT, itl_hist=TTFT, running=3.0, waiting=1.0, kv_cache_usage=0.42
    )
    set_prices()
    rollup_pending(now=timezone.now())
    a0 = Gpu.objects.get(uuid="a0")
    Anomaly.objects.create(
        gpu=a0,
        metric="gpu.util",
        detector="seasonal",
        kind="spike",
        start=day + timedelta(hours=3),
        end=day + timedelta(hours=3, minutes=10),
        score=9.0,
        severity="critical",
        observed=99.0,
        expected_low=40.0,
        expected_high=60.0,
        explanation="GPU utilization 99% against 40-60% usual at this hour.",
    )
    return day


def entity_urls() -> dict[str, str]:
    gpu = Gpu.objects.order_by("pk").first()
    dep = Deployment.objects.order_by("pk").first()
    anomaly = Anomaly.objects.order_by("pk").first()
    urls = {}
    if gpu:
        urls["gpu"] = f"/gpus/{gpu.pk}/"
    if dep:
        urls["deployment"] = f"/deployments/{dep.pk}/"
    if anomaly:
        urls["anomaly"] = f"/anomalies/{anomaly.pk}/"
    return urls


LIST_PAGES = [
    "/",
    "/nodes/",
    "/deployments/",
    "/costs/",
    "/anomalies/",
    "/recommendations/",
    "/alerts/",
    "/settings/",
]
