"""A GPU's week of hourly utilization and cost records with nobody on it: built for the
idle GPU rule tests and the recommendation actions that act on its findings."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from collectors.models import Gpu
from costs.models import CostRecord
from telemetry.choices import Resolution
from telemetry.models import GpuRollup

END = datetime(2026, 11, 23, tzinfo=UTC)  # the window is the 7 days before


def week(
    gpu: Gpu, util: float, hours: int = 7 * 24, usd: str = "2.50", end: datetime = END
) -> None:
    """`hours` of hourly utilization at `util`% and cost records at `usd`, up to `end`."""
    start = end - timedelta(hours=hours)
    GpuRollup.objects.bulk_create(
        GpuRollup(
            gpu=gpu,
            resolution=Resolution.HOUR,
            bucket=start + timedelta(hours=h),
            samples=360,
            present_s=3600,
            util_sum=util * 360,
            util_n=360,
        )  # fmt: skip
        for h in range(hours)
    )
    CostRecord.objects.bulk_create(
        CostRecord(
            hour=start + timedelta(hours=h),
            gpu=gpu,
            deployment=None,
            usd=Decimal(usd),
            gpu_hours=1.0,
            rate_usd_per_hour=Decimal(usd),
            pricing="test",
        )  # fmt: skip
        for h in range(hours)
    )
