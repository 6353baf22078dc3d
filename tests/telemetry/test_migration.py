"""telemetry 0001: the rollups and capacity estimates stored under costs and economics
are the telemetry app's afterwards, row for row, with nothing copied."""

from datetime import UTC, datetime

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

BEFORE = [("costs", "0008_dialect_counts"), ("economics", "0001_initial")]
HOUR = datetime(2026, 11, 3, 10, tzinfo=UTC)


@pytest.mark.django_db(transaction=True)
def test_rows_stored_before_the_move_are_read_through_the_telemetry_models() -> None:
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    old = executor.loader.project_state(BEFORE).apps
    node = old.get_model("collectors", "Node").objects.create(name="n")
    gpu = old.get_model("collectors", "Gpu").objects.create(node=node, uuid="g0")
    deployment = old.get_model("collectors", "Deployment").objects.create(node=node, name="d")
    old.get_model("costs", "GpuRollup").objects.create(
        gpu=gpu, resolution=3600, bucket=HOUR, samples=360, present_s=3600.0, util_sum=12.5
    )
    old.get_model("costs", "InferenceRollup").objects.create(
        deployment=deployment, resolution=3600, bucket=HOUR, samples=60, present_s=3600.0
    )
    old.get_model("economics", "CapacityEstimate").objects.create(
        deployment=deployment,
        computed_at=HOUR,
        window_start=HOUR,
        window_end=HOUR,
        capacity_rps=12.0,
        basis="knee",
    )

    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())

    from telemetry.models import CapacityEstimate, GpuRollup, InferenceRollup

    assert GpuRollup._meta.db_table == "costs_gpurollup"
    assert list(GpuRollup.objects.values_list("gpu__uuid", "util_sum")) == [("g0", 12.5)]
    assert list(InferenceRollup.objects.values_list("deployment__name", "samples")) == [("d", 60)]
    assert list(CapacityEstimate.objects.values_list("deployment__name", "capacity_rps")) == [
        ("d", 12.0)
    ]
