"""The whole path on the simulated fleet of `make run`: samples through ingest, the
rollups, costs and capacity estimates, then every rule. Its idle and idle-held GPUs
must come out, and the deployment whose peak is past its capacity must get a replica."""

import io
from datetime import UTC, datetime, timedelta

import msgspec
import pytest
from django.core.management import call_command

from collectors.agent.simulated import batch_body
from collectors.ingest import ingest_batch
from collectors.services import agent_create
from recommendations.models import Recommendation
from recommendations.services import recommendations_recompute

pytestmark = pytest.mark.django_db


def test_the_simulated_fleet_gets_its_idle_gpus_released_and_its_short_service_a_replica():
    # Up to the current hour: ingest and retention judge samples by the real clock.
    NOW = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)  # noqa: N806
    agent = agent_create("simulated-agent")[0]
    start = (NOW - timedelta(hours=30)).timestamp()
    step = 6 * 3600
    for at in range(int(start), int(NOW.timestamp()), step):
        body = batch_body(at, min(at + step, NOW.timestamp()), 120.0)
        ingest_batch(agent, msgspec.json.encode(body))
    # The hourly capacity job as beat runs it after the rollups: rule 6 reads its knees.
    call_command("runjobs", "rollup_pending", "estimate_capacity", stdout=io.StringIO())
    summary = recommendations_recompute(now=NOW)
    rows = {r.gpu.uuid: r for r in Recommendation.objects.filter(rule="idle_gpus")}
    # GPU-sim-b-1 is held by summarize-7b with no traffic; b-2 and b-3 hold nothing.
    assert set(rows) == {"GPU-sim-b-1", "GPU-sim-b-2", "GPU-sim-b-3"}
    assert rows["GPU-sim-b-1"].action.startswith("Stop summarize-7b on sim-node-b")
    assert all(r.monthly_saving_usd > 0 for r in rows.values())
    assert summary.found == Recommendation.objects.count()
    # code-qwen-32b's daily peak (4 requests/s) is past what it carries within its
    # 2,000 ms TTFT target (~3.1): its cache never fills, but its knee shows the
    # queueing is load, so rule 6 asks for a second replica. Nothing else holds.
    [scale_up] = Recommendation.objects.exclude(rule="idle_gpus")
    assert scale_up.rule == "scale_up_slo"
    assert scale_up.title == "Add capacity to code-qwen-32b"
    assert scale_up.action.startswith("Add 1 replica to code-qwen-32b")
    assert "with the load past the" in scale_up.action
    assert scale_up.evidence["capacity_source"] == "live estimate"
    assert scale_up.evidence["capacity_estimate"]["basis"] == "observed"
    assert scale_up.monthly_saving_usd < 0
