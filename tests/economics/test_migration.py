"""costs 0007: records stored as idle-held (a bool) before the split keep their dollars."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

BEFORE = [("costs", "0006_hourlyspend")]
HOUR = datetime(2026, 11, 3, 10, tzinfo=UTC)


@pytest.mark.django_db(transaction=True)
def test_old_idle_held_records_keep_their_dollars_and_old_rollups_stay_active() -> None:
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    old = executor.loader.project_state(BEFORE).apps
    node = old.get_model("collectors", "Node").objects.create(name="n")
    gpu = old.get_model("collectors", "Gpu").objects.create(node=node, uuid="g0")
    Deployment = old.get_model("collectors", "Deployment")
    held, busy = (Deployment.objects.create(node=node, name=n) for n in ("held", "busy"))
    record = old.get_model("costs", "CostRecord").objects
    common = {"hour": HOUR, "gpu": gpu, "rate_usd_per_hour": Decimal(2), "pricing": "t"}
    record.create(deployment=held, usd=Decimal("1.25"), gpu_hours=0.5, idle_held=True, **common)
    record.create(deployment=busy, usd=Decimal("0.75"), gpu_hours=0.5, **common)
    spend = old.get_model("costs", "HourlySpend").objects
    spend.create(
        hour=HOUR,
        deployment=held,
        usd=Decimal("1.25"),
        idle_held_usd=Decimal("1.25"),
        gpu_hours=0.5,
    )
    rollup = old.get_model("costs", "InferenceRollup").objects
    rollup.create(
        deployment=busy, resolution=3600, bucket=HOUR, samples=60, present_s=3600, requests_ok=5
    )
    rollup.create(deployment=held, resolution=3600, bucket=HOUR, samples=60, present_s=3600)

    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())

    from costs.models import CostRecord, HourlySpend
    from telemetry.models import InferenceRollup

    rows = {r.deployment.name: r for r in CostRecord.objects.select_related("deployment")}
    assert (rows["held"].idle_held_usd, rows["held"].idle_held_hours) == (Decimal("1.25"), 0.5)
    assert (rows["busy"].idle_held_usd, rows["busy"].idle_held_hours) == (Decimal(0), 0.0)
    assert HourlySpend.objects.get(deployment=held.pk).idle_held_gpu_hours == 0.5
    active = dict(InferenceRollup.objects.values_list("deployment__name", "active_s"))
    assert active == {"busy": 3600.0, "held": 0.0}
