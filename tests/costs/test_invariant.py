"""Deployments + idle = the fleet's bill, within $0.01, and nothing negative, on random
fleets; active + idle-held + truly idle = the bill exactly."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import msgspec
import pytest
from django.db.models import Sum
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from collectors.ingest import ingest_batch
from collectors.models import Agent, Node, SampleSpan
from collectors.services import agent_create
from costs.attribution import Claim, split
from costs.economics.idle import idle_series
from costs.models import CostRecord, HourlySpend, PriceBookEntry
from costs.pipeline import rollup_pending
from costs.selectors import cost_by
from telemetry.models import GpuRollup
from tests.examples import examples

claims = st.lists(
    st.builds(
        Claim,
        deployment_id=st.integers(1, 1000),
        present_s=st.floats(0, 3600),
        memory_bytes=st.one_of(st.none(), st.floats(0, 2e11)),
        active_s=st.floats(0, 3600),
    ),
    max_size=6,
    unique_by=lambda c: c.deployment_id,
)


@given(
    price=st.decimals(0, 1000, places=6),
    claims=claims,
    present=st.floats(0.001, 3600),
    memory_total=st.one_of(st.none(), st.floats(0, 2e11)),
)
def test_a_gpu_hour_splits_into_non_negative_parts_that_add_up(
    price: Decimal, claims: list[Claim], present: float, memory_total: float | None
) -> None:
    shares = split(price, claims, present, memory_total)
    assert sum(s.usd for s in shares) == price.quantize(Decimal("0.000001"))
    assert all(s.usd >= 0 for s in shares)
    # Each share's idle-held part lies within it, so active + idle-held + idle = the price.
    assert all(0 <= s.idle_held_usd <= s.usd for s in shares)
    assert shares[-1].idle_held_usd == 0
    assert sum(s.fraction for s in shares) == pytest.approx(1.0, abs=1e-9) or not claims
    assert [s.deployment_id for s in shares][-1] is None


START = datetime(2026, 10, 5, tzinfo=UTC)
gpu_plan = st.fixed_dictionaries(
    {
        "model": st.sampled_from(["NVIDIA H100 80GB HBM3", "NVIDIA L4", "Mystery GPU"]),
        "minutes": st.integers(1, 150),
        "offset": st.integers(0, 60),
        "every": st.sampled_from([10, 30, 60, 400]),
    }
)
deployment_plan = st.fixed_dictionaries(
    {
        "gpus": st.lists(st.integers(0, 3), min_size=1, max_size=2, unique=True),
        "memory": st.one_of(st.none(), st.integers(0, 90 * 2**30)),
        "requests": st.integers(0, 50),
        "minutes": st.integers(1, 150),
        "labels": st.sampled_from([{}, {"team": "a"}, {"team": "b"}]),
    }
)


def _body(gpus: list[dict[str, Any]], deployments: list[dict[str, Any]]) -> dict[str, Any]:
    inventory = {
        "nodes": [{"name": "n0"}, {"name": "n1"}],
        "gpus": [
            {"uuid": f"g{i}", "node": f"n{i % 2}", "index": i, "model": g["model"]}
            for i, g in enumerate(gpus)
        ],
        "deployments": [],
    }
    gpu_samples, inference_samples = [], []
    for i, gpu in enumerate(gpus):
        for second in range(0, gpu["minutes"] * 60, gpu["every"]):
            ts = START + timedelta(seconds=gpu["offset"] * 60 + second)
            gpu_samples.append({"gpu": f"g{i}", "ts": ts.isoformat(), "power_w": 300.0})
    for d, dep in enumerate(deployments):
        # A deployment lives on one node: its GPUs are the plan's, on its node.
        node = d % 2
        uuids = [f"g{i}" for i in dep["gpus"] if i < len(gpus) and i % 2 == node]
        inventory["deployments"].append(
            {"name": f"d{d}", "node": f"n{node}", "gpus": uuids, "labels": dep["labels"]}
        )
        for minute in range(dep["minutes"]):
            sample: dict[str, Any] = {
                "deployment": f"d{d}",
                "ts": (START + timedelta(minutes=minute)).isoformat(),
                "interval_s": 60.0,
                # Some minutes serve nothing: their time is idle-held.
                "requests_ok": dep["requests"] if minute % 3 else 0,
                "prompt_tokens": dep["requests"] * 100 if minute % 3 else 0,
            }
            if dep["memory"] is not None and uuids:
                sample["gpu_memory"] = {u: dep["memory"] for u in uuids}
            inference_samples.append(sample)
    return {
        "schema_version": 1,
        "batch_id": "random-fleet",
        "inventory": inventory,
        "gpu_samples": gpu_samples,
        "inference_samples": inference_samples,
    }


@pytest.mark.django_db
@settings(max_examples=examples(25), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    gpus=st.lists(gpu_plan, min_size=1, max_size=4),
    deployments=st.lists(deployment_plan, max_size=4),
    price=st.decimals("0.01", "20", places=4),
)
def test_on_random_fleets_deployments_plus_idle_is_the_bill(
    gpus: list[dict[str, Any]], deployments: list[dict[str, Any]], price: Decimal
) -> None:
    # Hypothesis runs every example in the one test transaction: start each empty.
    Node.objects.all().delete()
    Agent.objects.all().delete()
    SampleSpan.objects.all().delete()
    # The idle rows of HourlySpend have no GPU to cascade from.
    HourlySpend.objects.all().delete()
    PriceBookEntry.objects.update_or_create(
        gpu_model="H100 SXM",
        kind="on_demand",
        valid_from=START.date(),
        defaults={"usd_per_gpu_hour": price, "source": "test"},
    )
    agent = agent_create(f"random-{datetime.now().timestamp()}")[0]
    body = _body(gpus, deployments)
    body["batch_id"] = agent.name
    ingest_batch(agent, msgspec.json.encode(body), now=START + timedelta(days=1))
    rollup_pending(now=START + timedelta(days=1))

    bill = CostRecord.objects.aggregate(total=Sum("usd"))["total"] or Decimal(0)
    assert CostRecord.objects.filter(usd__lt=0).count() == 0
    # Active + idle-held + truly idle = the bill, exactly: the three are parts of the records.
    steps = idle_series(START - timedelta(hours=1), START + timedelta(hours=5), 3600)
    assert sum((s.usd for s in steps), Decimal(0)) == bill
    end = START + timedelta(hours=5)
    for by in ("deployment", "label:team", "gpu", "node"):
        rows = cost_by(START - timedelta(hours=1), end, by)
        parts = sum((r.cost_usd for r in rows[:-1]), Decimal(0))
        assert abs(parts - bill) <= Decimal("0.01")
        assert abs(rows[-1].cost_usd - bill) <= Decimal("0.01")
        total = rows[-1]
        assert total.active_usd + total.idle_held_usd + total.truly_idle_usd == total.cost_usd
    # Each GPU-hour's parts add up to its price for the time the GPU was present.
    rates = {"NVIDIA H100 80GB HBM3": price, "Mystery GPU": Decimal(0)}
    rates["NVIDIA L4"] = (
        PriceBookEntry.objects.filter(gpu_model="L4", kind="on_demand")
        .latest("valid_from")
        .usd_per_gpu_hour
    )
    per_gpu_hour = CostRecord.objects.values("gpu", "hour").annotate(usd=Sum("usd"))
    for row in per_gpu_hour:
        rollup = GpuRollup.objects.select_related("gpu").get(
            gpu=row["gpu"], resolution=3600, bucket=row["hour"]
        )
        hours = Decimal(repr(min(rollup.present_s, 3600.0))) / 3600
        expected = (rates[rollup.gpu.model_name] * hours).quantize(
            Decimal("0.000001"), "ROUND_DOWN"
        )
        assert row["usd"] == expected
