"""Rule 3 on a constructed week: a vLLM deployment at its batch limit of 32 in 40 of 168
hours with the KV cache 35% full and p95 ITL 19 ms against a 100 ms target."""

from datetime import datetime
from decimal import Decimal
from typing import Any

import pytest

from collectors.models import Deployment, DeploymentSettings, Node
from costs.models import CostRecord, InferenceRollup
from profiling.choices import JobStatus
from profiling.models import ProfilingJob, ProfilingResult
from recommendations.choices import Confidence
from recommendations.rules.base import Context
from recommendations.rules.batching import BatchingHeadroom
from tests.builders.fleet import deployment
from tests.builders.hours import END, cost_hours, hist, inference_hours

pytestmark = pytest.mark.django_db

ITL_BOUNDS = [0.02, 0.04, 0.1, 0.2]  # seconds


def week(
    dep: Deployment,
    capped: int = 40,
    hours: int = 7 * 24,
    kv: float = 0.35,
    itl_bucket: int | None = 0,
    usd: str = "2.50",
) -> None:
    """`capped` hours at the limit of 32 with 5 waiting, the rest at 20 running, none
    waiting; 1,000 requests of 500 prompt and 250 generated tokens an hour."""

    def hour(h: int, bucket: datetime) -> dict[str, Any]:
        at_limit = h < capped
        return {
            "running_max": 32 if at_limit else 20,
            "waiting_max": 5 if at_limit else 0,
            "kv_cache_sum": (kv if at_limit else 0.3) * 360,
        }

    inference_hours(
        dep,
        hours,
        each=hour,
        requests_ok=1000,
        prompt_tokens=500_000,
        generation_tokens=250_000,
        kv_cache_n=360,
        itl_hist=None if itl_bucket is None else hist(ITL_BOUNDS, itl_bucket, mean=0.015),
    )
    cost_hours(dep.gpus.get(), dep, usd, hours)


@pytest.fixture
def dep() -> Deployment:
    settings = {"dtype": "bf16", "quant": "none", "attention": "flash", "compiled": False}
    return deployment(
        "chat-8b", uuids=["GPU-a"], settings={**settings, "max_batch": 32}, server_kind="vllm"
    )


def sweep(
    dep: Deployment,
    points: list[tuple[int, float, float, float]],
    shape: tuple[int, int] = (512, 256),
    job: ProfilingJob | None = None,
) -> ProfilingJob:
    """Points (batch, tokens/s, ITL ms, TTFT ms) at bf16 flash, one request shape."""
    if job is None:
        job = ProfilingJob.objects.create(
            deployment=dep, spec={}, status=JobStatus.DONE, finished_at=END
        )
    start = ProfilingResult.objects.filter(job=job).count()
    ProfilingResult.objects.bulk_create(
        ProfilingResult(
            job=job,
            index=start + i,
            batch_size=batch,
            prompt_len=shape[0],
            gen_len=shape[1],
            dtype="bf16",
            quant="none",
            attention="flash",
            compiled=False,
            status="ok",
            tokens_per_s=tps,
            decode_tokens_per_s=tps / 2,
            itl_ms=itl_ms,
            ttft_ms=ttft_ms,
        )
        for i, (batch, tps, itl_ms, ttft_ms) in enumerate(points)
    )
    return job


def run() -> list:
    return BatchingHeadroom().evaluate(Context(end=END))


def test_without_profiling_it_proposes_twice_the_limit_and_states_no_saving(dep):
    week(dep)
    [finding] = run()
    # min(2 x 32, floor(32 x 0.9 / 0.35) = 82) = 64; p95 ITL = 20 ms x 0.95 = 19 ms.
    assert finding.monthly_saving_usd == Decimal("0.00")
    assert finding.confidence == Confidence.LOW
    assert finding.action == (
        "Set max_num_seqs to 64 on deployment chat-8b: requests queued in 40 of 168 hours"
        " with the KV cache 35% full and p95 ITL 19 ms (target 100 ms); run a profiling"
        " sweep to measure the gain."
    )
    assert finding.arithmetic.startswith(
        "new limit = min(2 x 32, floor(32 x 0.9 / 0.35)) = min(64, 82) = 64;"
    )
    assert "run a profiling sweep at batch 32 and 64" in finding.arithmetic
    assert finding.key == f"deployment:{dep.pk}"
    assert finding.deployment_id == dep.pk and finding.node_id == dep.node_id
    chart = finding.evidence["chart"]
    assert chart["series"][0]["y"][:2] == [32, 32] and chart["series"][1]["y"][0] == 35.0
    assert chart["lines"][0] == {"name": "batch limit", "y": 32.0}


def test_a_profiling_sweep_sets_the_limit_and_the_saving(dep):
    week(dep)
    # Batch 80 misses the ITL target, 128 is beyond what the cache holds (82): 64 it is.
    job = sweep(
        dep,
        [(16, 1200, 20, 300), (32, 2000, 25, 500), (64, 5000, 38, 900), (80, 5600, 120, 1100)],
    )
    # A longer-prompt shape, further from the traffic's 500/250 tokens, is not used.
    sweep(dep, [(32, 2000, 25, 500), (64, 2400, 40, 1500)], shape=(4096, 64), job=job)
    [finding] = run()
    # N = 5000 / 2000 = 2.50; 168 h x $2.50 = $420.00 a week; x 30.4375 / 7 = $1,826.25
    # a month; x (1 - 1/2.5) = x 0.6 = $1,095.75.
    assert finding.monthly_saving_usd == Decimal("1095.75")
    assert finding.arithmetic == (
        "5,000 tokens/s at batch 64 / 2,000 at batch 32 = 2.50x; $420.00 over 7 days"
        " x 30.4375 / 7 x (1 - 1/2.50) = $1095.75 per month (the same tokens on fewer"
        " GPU-hours)"
    )
    assert finding.action == (
        "Set max_num_seqs to 64 on deployment chat-8b: profiling shows 2.50x tokens/s at ITL"
        " 38 ms (target 100 ms); requests queued in 40 of 168 hours with the KV cache 35% full."
    )
    assert finding.confidence == Confidence.HIGH
    assert finding.evidence["profiling"]["job_id"] == job.pk


def test_a_sweep_whose_larger_batches_miss_the_target_keeps_it_silent(dep):
    week(dep)
    sweep(dep, [(32, 2000, 25, 500), (64, 3500, 130, 900)])
    assert run() == []


def test_a_sweep_where_a_larger_batch_is_no_faster_keeps_it_silent(dep):
    week(dep)
    sweep(dep, [(32, 2000, 25, 500), (64, 1990, 40, 900)])
    assert run() == []


def test_replicas_are_told_apart_by_node(dep):
    week(dep)
    Deployment.objects.create(node=Node.objects.create(name="gpu-node-2"), name="chat-8b")
    [finding] = run()
    assert finding.action.startswith("Set max_num_seqs to 64 on deployment chat-8b on gpu-node-1:")


def test_a_sweep_without_the_current_batch_falls_back_to_the_cache_bound(dep):
    week(dep, kv=0.5)
    sweep(dep, [(16, 1200, 20, 300), (64, 5000, 38, 900)])
    [finding] = run()
    # min(64, floor(32 x 0.9 / 0.5) = 57) = 57, unmeasured: no saving stated.
    assert finding.evidence["new_limit"] == 57
    assert finding.monthly_saving_usd == Decimal("0.00")
    assert finding.confidence == Confidence.LOW


def test_the_knob_is_named_after_the_server(dep):
    Deployment.objects.filter(pk=dep.pk).update(server_kind="tgi")
    week(dep)
    [finding] = run()
    assert finding.action.startswith("Set max_concurrent_requests to 64 on deployment chat-8b")


def test_a_healthy_deployment_gets_no_finding(dep):
    week(dep, capped=0)
    assert run() == []


def test_latency_near_the_target_keeps_it_silent(dep):
    week(dep, itl_bucket=2)  # p95 = 40 + 60 x 0.95 = 97 ms, over half the 100 ms target
    assert run() == []


def test_a_full_kv_cache_is_not_headroom(dep):
    week(dep, kv=0.6)
    assert run() == []


def test_capped_hours_under_a_tenth_of_the_window_say_nothing(dep):
    week(dep, capped=16)  # 16 / 168 = 9.5%
    assert run() == []
    InferenceRollup.objects.all().delete()
    CostRecord.objects.all().delete()
    week(dep, capped=17)  # 10.1%
    assert len(run()) == 1


def test_missing_histograms_say_nothing(dep):
    week(dep, itl_bucket=None)
    assert run() == []


def test_missing_settings_say_nothing(dep):
    week(dep)
    DeploymentSettings.objects.filter(deployment=dep).update(max_batch=None)
    assert run() == []
    DeploymentSettings.objects.filter(deployment=dep).delete()
    assert run() == []


def test_too_little_data_says_nothing(dep):
    week(dep, capped=20, hours=23)
    assert run() == []
