"""A GPU's week of hourly utilization and cost records with nobody on it: built for the
idle GPU rule tests and the recommendation actions that act on its findings."""

from datetime import UTC, datetime

from collectors.models import Gpu
from tests.builders.hours import gpu_week

END = datetime(2026, 11, 23, tzinfo=UTC)  # the window is the 7 days before


def week(
    gpu: Gpu, util: float, hours: int = 7 * 24, usd: str = "2.50", end: datetime = END
) -> None:
    """`hours` of hourly utilization at `util`% and cost records at `usd`, up to `end`."""
    gpu_week(gpu, util, usd, None, hours, end)
