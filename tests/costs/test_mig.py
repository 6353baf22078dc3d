"""A MIG GPU billed through its instances: each is priced at its share of the GPU."""

from datetime import timedelta
from decimal import Decimal
from typing import Any

import msgspec
import pytest
from django.db.models import Sum

from collectors.ingest import ingest_batch
from collectors.models import Gpu
from collectors.services import agent_create
from costs.models import CostRecord
from costs.pipeline import rollup_pending
from tests.builders.prices import price
from tests.costs.fleet import DAY

pytestmark = pytest.mark.django_db
PARENT = "GPU-6c1e9b42-0a7d-3f58-92e4-d85b17ac3f60"
INSTANCES = {f"{PARENT}/mig-2": ("3g.40gb", 3 / 7), f"{PARENT}/mig-9": ("1g.10gb", 1 / 7)}


def store(hours: int = 2) -> None:
    agent = agent_create("mig")[0]
    gpus = [
        {
            "uuid": uuid,
            "node": "mig-node",
            "index": 0,
            "model": "NVIDIA A100-SXM4-80GB",
            "mig_profile": profile,
            "gpu_fraction": fraction,
            "util_from": "graphics_engine",
        }
        for uuid, (profile, fraction) in INSTANCES.items()
    ]
    body: dict[str, Any] = {
        "schema_version": 1,
        "batch_id": "mig-1",
        "inventory": {
            "nodes": [{"name": "mig-node"}],
            "gpus": gpus,
            "deployments": [{"name": "chat", "node": "mig-node", "gpus": [f"{PARENT}/mig-2"]}],
        },
        "gpu_samples": [],
        "inference_samples": [],
    }
    for minute in range(hours * 60 + 1):
        ts = DAY - timedelta(minutes=1) + timedelta(minutes=minute)
        for uuid, (_, fraction) in INSTANCES.items():
            body["gpu_samples"].append(
                {"gpu": uuid, "ts": ts.isoformat(), "util_gpu": 50.0, "power_w": 400 * fraction}
            )
        if minute:
            body["inference_samples"].append(
                {
                    "deployment": "chat",
                    "node": "mig-node",
                    "ts": ts.isoformat(),
                    "interval_s": 60.0,
                    "requests_ok": 10,
                }
            )
    ingest_batch(agent, msgspec.json.encode(body), now=DAY + timedelta(days=1))
    price("7.00", "A100 80GB", valid_from=DAY.date() - timedelta(days=1), source="test price")
    rollup_pending(now=DAY + timedelta(hours=hours + 1))


def test_mig_instances_are_stored_with_their_profile_and_share():
    store()
    stored = {g.uuid: g for g in Gpu.objects.all()}
    assert set(stored) == set(INSTANCES)
    assert stored[f"{PARENT}/mig-2"].mig_profile == "3g.40gb"
    assert stored[f"{PARENT}/mig-2"].gpu_fraction == pytest.approx(3 / 7)
    assert stored[f"{PARENT}/mig-9"].util_from == "graphics_engine"


def test_each_instance_costs_its_share_of_the_gpu_hour():
    store()
    per_gpu = {
        row["gpu__uuid"]: row
        for row in CostRecord.objects.filter(hour__gte=DAY, hour__lt=DAY + timedelta(hours=2))
        .values("gpu__uuid")
        .annotate(usd=Sum("usd"), hours=Sum("gpu_hours"))
    }
    # $7/h for the whole A100: 3/7 of it is $3/h, 1/7 is $1/h; two hours each.
    assert per_gpu[f"{PARENT}/mig-2"]["usd"] == pytest.approx(Decimal("6.00"), abs=Decimal("0.01"))
    assert per_gpu[f"{PARENT}/mig-9"]["usd"] == pytest.approx(Decimal("2.00"), abs=Decimal("0.01"))
    assert per_gpu[f"{PARENT}/mig-2"]["hours"] == pytest.approx(2 * 3 / 7, rel=1e-3)
    # The deployment on the 3g instance pays for that instance, not the GPU.
    chat = CostRecord.objects.filter(deployment__name="chat").aggregate(usd=Sum("usd"))["usd"]
    assert chat == pytest.approx(Decimal("6.00"), abs=Decimal("0.01"))


def test_the_gpu_page_says_it_is_a_mig_instance(admin_client):
    store()
    gpu = Gpu.objects.get(uuid=f"{PARENT}/mig-2")
    page = admin_client.get(f"/gpus/{gpu.pk}/").content.decode()
    assert "MIG 3g.40gb" in page
    assert "42.9%" in page and "graphics engine" in page
