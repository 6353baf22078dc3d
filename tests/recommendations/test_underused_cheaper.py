"""Rule 2's second option on constructed weeks: chat-8b on 4 H100s at $2.50 a GPU-hour,
and chat-8b-l40s serving the same model on L40S GPUs, which the book prices lower.
It moves when the peer carried the load within the targets and the model fits; it
is silent when the peer broke a target, the memory does not fit, the book has no
cheaper price, or running fewer H100 replicas saves more."""

import json
from datetime import date, timedelta
from decimal import Decimal

import pytest

from collectors.models import Deployment, DeploymentSettings, Gpu
from costs.choices import PricingKind, Resolution
from costs.models import GpuRollup, PriceBookEntry
from recommendations.choices import Confidence
from recommendations.rules.base import Context
from recommendations.rules.underused import UnderusedDeployments
from tests.builders.hours import END, WEEK
from tests.builders.prices import price
from tests.recommendations.replicas import MODEL, SWEEP, service, sweep, traffic

pytestmark = pytest.mark.django_db

GIB = 2**30
L40S = "NVIDIA L40S"


def gpus_of(deps: list[Deployment]) -> list[Gpu]:
    return [g for dep in deps for g in dep.gpus.all()]


def memory_used(deps: list[Deployment], peak_gib: float) -> None:
    """Each GPU's hourly peak: 20 GiB, and peak_gib in one hour of the week."""
    GpuRollup.objects.bulk_create(
        GpuRollup(
            gpu=gpu,
            resolution=Resolution.HOUR,
            bucket=END - timedelta(hours=h + 1),
            samples=360,
            present_s=3600,
            mem_used_max=int((peak_gib if h == 30 else 20) * GIB),
        )
        for gpu in gpus_of(deps)
        for h in range(WEEK)
    )


def l40s_price(usd: str | None) -> None:
    """The book's on-demand L40S price from Nov 1 (the seeded $2.25 is older); None:
    no L40S price at all."""
    if usd is None:
        PriceBookEntry.objects.filter(gpu_model="L40S").delete()
    else:
        price(usd, "L40S", PricingKind.ON_DEMAND, valid_from=date(2026, 11, 1))


def fleet(
    peer_tokens_s: float = 900.0,
    peer_itl_s: float = 0.05,
    peak_gib: float = 30.0,
    peer_memory_gib: int | None = 48,
    price: str | None = "1.20",
    replicas: int = 4,
) -> list[Deployment]:
    """chat-8b: `replicas` H100s carrying 300 tokens/s each, its GPUs' peak memory
    `peak_gib`; chat-8b-l40s: 2 L40S replicas carrying `peer_tokens_s` each (unpriced,
    so it says nothing of itself)."""
    chat = service("chat-8b", replicas)
    traffic(chat, 300.0)
    memory_used(chat, peak_gib)
    peer = service("chat-8b-l40s", 2, gpu=L40S)
    traffic(peer, peer_tokens_s, itl_s=peer_itl_s, usd=None)
    memory = None if peer_memory_gib is None else peer_memory_gib * GIB
    Gpu.objects.filter(pk__in=[g.pk for g in gpus_of(peer)]).update(memory_total_bytes=memory)
    l40s_price(price)
    return chat


def evaluate() -> list:
    return UnderusedDeployments().evaluate(Context(end=END))


def test_a_service_moves_to_fewer_cheaper_gpus_that_a_peer_showed_carry_it():
    chat = fleet()
    sweep(chat[0], SWEEP)  # 900 tokens/s an H100 replica: 2 of 4 would also do
    [finding] = evaluate()
    assert finding.title == "Move chat-8b from 4 H100 SXM to 2 L40S GPUs"
    assert finding.action == (
        "Move chat-8b from 4 H100 SXM to 2 L40S GPUs: chat-8b-l40s, serving the same model"
        " on L40S, carried 900 tokens/s per GPU at p95 ITL 48 ms (target 100 ms) in its"
        " busiest such hour; chat-8b's busiest hours (p95) need 1,200 tokens/s, and its"
        " peak memory of 30 GiB per GPU fits their 48 GiB."
    )
    # Now: 4 GPUs x 168 h x $2.50 = $1,680 a week, x 30.4375 / 7 = $7,305.00 a month.
    # On L40S: ceil(1,200 x 1.3 / 900) = ceil(1.73) = 2 GPUs x $1.20 x 730.5 h = $1,753.20.
    # Saving: $7,305.00 - $1,753.20 = $5,551.80; fewer H100s (2 of 4) would save half
    # of $7,305.00, $3,652.50: less, so this is the one finding, that one in evidence.
    assert finding.monthly_saving_usd == Decimal("5551.80")
    assert finding.arithmetic == (
        "max(1, ceil(1,200 tokens/s x 1.3 / 900 tokens/s per GPU)) = 2 L40S GPUs;"
        " now: $1680.00 over 7 days x 30.4375 / 7 = $7305.00 per month;"
        " on L40S: 2 x $1.20 per GPU-hour on demand x 730.5 h = $1753.20 per month;"
        " saving $7305.00 - $1753.20 = $5551.80 per month"
    )
    assert finding.confidence == Confidence.MEDIUM
    assert finding.key == f"service:chat-8b|{MODEL}"
    assert finding.deployment_id == chat[0].pk
    evidence = finding.evidence
    json.dumps(evidence)  # stored as JSON with the recommendation
    assert evidence["option"] == "cheaper_gpu"
    assert evidence["deployment_ids"] == [d.pk for d in chat]
    assert evidence["fewer_replicas"] == {"needed": 2, "monthly_saving_usd": "3652.50"}
    assert (evidence["gpu_model_now"], evidence["usd_per_gpu_hour_now"]) == ("H100 SXM", "2.50")
    assert (evidence["gpu_model"], evidence["usd_per_gpu_hour"]) == ("L40S", "1.20")
    assert (evidence["peak_memory_bytes"], evidence["gpu_memory_bytes"]) == (30 * GIB, 48 * GIB)
    assert "not chat-8b's own" in evidence["confidence_why"]
    assert evidence["chart"]["lines"] == [
        {"name": "p95 hour", "y": 1200.0},
        {"name": "capacity of 2 L40S GPUs", "y": 1800.0},
    ]


def test_a_single_replica_moves_too():
    fleet(replicas=1)
    [finding] = evaluate()
    # $420 a week is $1,826.25 a month; 1 L40S (ceil(300 x 1.3 / 900) = 1) costs
    # $1.20 x 730.5 = $876.60: $949.65 saved.
    assert finding.title == "Move chat-8b from 1 H100 SXM to 1 L40S GPU"
    assert finding.monthly_saving_usd == Decimal("949.65")
    assert finding.evidence["fewer_replicas"] is None


@pytest.mark.parametrize("tight", [False, True])
def test_silent_when_the_peers_hours_broke_the_slo(tight):
    if tight:
        # Within its own 100 ms (48 ms) but not chat-8b's 40 ms.
        chat = fleet()
        DeploymentSettings.objects.create(deployment=chat[0], slo_itl_ms=40.0)
    else:
        fleet(peer_itl_s=0.2)  # p95 ITL ~190 ms every hour: over the 100 ms target
    assert evaluate() == []


@pytest.mark.parametrize(("peak_gib", "memory_gib"), [(60.0, 48), (30.0, None)])
def test_silent_when_the_model_does_not_fit_the_cheaper_gpu_or_its_memory_is_unknown(
    peak_gib, memory_gib
):
    fleet(peak_gib=peak_gib, peer_memory_gib=memory_gib)
    assert evaluate() == []


def test_silent_without_the_services_measured_memory():
    fleet()
    GpuRollup.objects.all().update(mem_used_max=None)
    assert evaluate() == []


@pytest.mark.parametrize("price", [None, "2.50"])
def test_silent_when_the_book_has_no_cheaper_price(price):
    fleet(price=price)  # none for L40S, or the $2.50 the H100s cost now
    assert evaluate() == []


def test_fewer_replicas_saving_more_is_the_finding_with_the_other_figure_in_evidence():
    chat = fleet(peer_tokens_s=300.0)
    sweep(chat[0], SWEEP)
    [finding] = evaluate()
    # On L40S: ceil(1,200 x 1.3 / 300) = ceil(5.2) = 6 GPUs x $1.20 x 730.5 h
    # = $5,259.60, saving $7,305.00 - $5,259.60 = $2,045.40; 2 of 4 H100 replicas
    # save $3,652.50.
    assert finding.title == "Run chat-8b on 2 replicas instead of 4"
    assert finding.monthly_saving_usd == Decimal("3652.50")
    assert finding.evidence["option"] == "fewer_replicas"
    assert finding.evidence["cheaper_gpu"] == {
        "gpu_model": "L40S",
        "needed": 6,
        "monthly_saving_usd": "2045.40",
    }
