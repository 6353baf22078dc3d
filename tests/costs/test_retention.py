from datetime import timedelta

import pytest

from collectors.models import GpuSample, InferenceSample
from costs.models import CostRecord
from costs.pipeline import rollup_pending
from telemetry.choices import Resolution
from telemetry.models import GpuRollup, InferenceRollup
from telemetry.retention import expire_old_data
from tests.costs.fleet import DAY, set_prices, store_day

pytestmark = pytest.mark.django_db


def test_raw_samples_go_after_two_weeks_and_minute_rollups_after_ninety_days() -> None:
    store_day(hours=2)
    set_prices()
    rollup_pending(now=DAY + timedelta(hours=3))
    hourly = GpuRollup.objects.filter(resolution=Resolution.HOUR).count()
    costs = CostRecord.objects.count()

    deleted = expire_old_data(now=DAY + timedelta(days=10))
    assert set(deleted.values()) == {0}

    deleted = expire_old_data(now=DAY + timedelta(days=15))
    assert deleted["gpu samples"] == 3 * 121
    assert GpuSample.objects.count() == InferenceSample.objects.count() == 0
    assert GpuRollup.objects.filter(resolution=Resolution.MINUTE).exists()

    expire_old_data(now=DAY + timedelta(days=91))
    assert not GpuRollup.objects.filter(resolution=Resolution.MINUTE).exists()
    assert not InferenceRollup.objects.filter(resolution=Resolution.MINUTE).exists()
    # Hourly and daily rollups and the costs are kept for good.
    assert GpuRollup.objects.filter(resolution=Resolution.HOUR).count() == hourly
    assert CostRecord.objects.count() == costs
