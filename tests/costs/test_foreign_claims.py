"""A deployment's reported GPU memory decides whose cost each GPU's hour becomes: memory
claimed on another node's GPU must move no cost (issue 23, finding 1)."""

from datetime import timedelta
from decimal import Decimal

import msgspec
import pytest

from collectors.ingest import IngestError, ingest_batch
from collectors.models import InferenceSample
from collectors.services import agent_create
from costs.pipeline import rollup_pending
from costs.selectors import cost_by
from tests.costs.fleet import DAY, GIB, set_prices, store_day

pytestmark = pytest.mark.django_db
END = DAY + timedelta(days=1)


def thief_batch(batch_id: str, memory: dict[str, int]) -> bytes:
    ts = DAY + timedelta(hours=1)
    return msgspec.json.encode(
        {
            "schema_version": 1,
            "batch_id": batch_id,
            "inventory": {
                "nodes": [{"name": "node-x"}],
                "deployments": [{"name": "thief", "node": "node-x"}],
            },
            "inference_samples": [
                {
                    "deployment": "thief",
                    "ts": ts.isoformat(),
                    "interval_s": 60.0,
                    "requests_ok": 1,
                    "gpu_memory": memory,
                }
            ],
        }
    )


def test_another_agents_gpu_cannot_be_claimed_at_ingest() -> None:
    store_day(hours=2)
    intruder = agent_create("intruder")[0]
    with pytest.raises(IngestError) as refused:
        ingest_batch(intruder, thief_batch("t1", {"a0": 10**15}), now=END)
    assert refused.value.errors == [
        {
            "field": "inference_samples[0].gpu_memory.a0",
            "message": "GPU 'a0' is not on this deployment's node",
        }
    ]
    assert not InferenceSample.objects.filter(deployment__name="thief").exists()


def test_a_gpu_of_the_same_agents_other_node_cannot_be_claimed_either() -> None:
    owner = store_day(hours=2)
    body = msgspec.json.decode(thief_batch("t2", {"b0": GIB}))
    body["inventory"]["deployments"][0]["node"] = "node-a"
    body["inventory"]["nodes"] = []
    with pytest.raises(IngestError) as refused:
        ingest_batch(owner, msgspec.json.encode(body), now=END)
    assert refused.value.errors[0]["field"] == "inference_samples[0].gpu_memory.b0"


def test_claims_stored_before_the_check_move_no_cost() -> None:
    owner = store_day()
    set_prices()
    # Stored as an older server would have: the thief on node-b says it holds a0.
    body = msgspec.json.decode(thief_batch("t3", {"b0": GIB}))
    body["inventory"]["deployments"][0]["node"] = "node-b"
    body["inventory"]["nodes"] = []
    ingest_batch(owner, msgspec.json.encode(body), now=END)
    InferenceSample.objects.filter(deployment__name="thief").update(gpu_memory={"a0": 10**15})
    rollup_pending(now=END + timedelta(hours=1))
    by_deployment = {r.key: r for r in cost_by(DAY, END, "deployment")}
    assert by_deployment["chat on node-a"].cost_usd == Decimal("48.00")  # 24 h x $2.00
    assert by_deployment["thief on node-b"].gpu_hours == pytest.approx(0)
