"""Headroom accuracy: each deployment's estimated vs true capacity at its SLO.

What it measures
    A day of the simulated fleet at 10 s is stored through the real ingest
    service, rolled up and costed on PostgreSQL. Besides the simulator's five
    servers it runs five more of other sizes (saturation rate, unloaded latency,
    decode speed) and loads, from well under their capacity to a third past it.
    Every simulated server follows a queueing model whose p95 latency at any
    rate is known (collectors/agent/simulated.py: latency(), capacity_at_slo()),
    so its true capacity at its SLO targets is known exactly.
    Then the hourly job (`telemetry.capacity.capacity_estimates_update`) estimates
    each knee from the stored minute rollups only, as it does in production.
    It prints, per deployment, the true and estimated capacity (requests/s),
    the error, the basis (observed / extrapolated / insufficient), the binding
    metric, the current load, headroom and replicas needed; then whether every
    estimate is within the target (15%), and the cost conservation check:
    active + idle-held + truly idle = the bill, to the cent.

How to run
    .venv/bin/python bench/headroom.py
    .venv/bin/python bench/headroom.py --interval 30 --keep-db

The bench database (default postgresql://postgres@127.0.0.1:5432/inferscope_bench_headroom,
or --database-url) is dropped and created afresh and dropped at the end unless --keep-db.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import database_arguments, django_on_new_database  # noqa: E402
from collectors.agent import simulated  # noqa: E402

DEFAULT_DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/inferscope_bench_headroom"
DAY = datetime(2026, 11, 2, tzinfo=UTC)
TARGET = 0.15
# Per-deployment p95 targets (ms) where the defaults (2,000 / 100 / 30,000) do not
# suit: an embedder answers in milliseconds and is judged end to end only.
SLOS = {
    "embed-bge": (2000.0, 100.0, 250.0),
    "rerank-minilm": (2000.0, 100.0, 150.0),
    "embed-e5": (2000.0, 100.0, 400.0),
}


def fleet() -> tuple[simulated.SimDeployment, ...]:
    """The simulator's servers plus five of other sizes, each loaded to a chosen share
    of its own true capacity."""
    chat, qwen, embed = simulated.DEPLOYMENTS[0], simulated.DEPLOYMENTS[1], simulated.DEPLOYMENTS[2]
    node = simulated.NODES[0]

    def variant(
        base: simulated.SimDeployment, name: str, load: float, **model: float
    ) -> simulated.SimDeployment:
        dep = dataclasses.replace(base, name=name, node=node, gpus=())
        dep = dataclasses.replace(dep, **model)  # type: ignore[arg-type]
        slo = SLOS.get(name, (2000.0, 100.0, 30000.0))
        return dataclasses.replace(dep, peak_rps=load * simulated.capacity_at_slo(dep, *slo))

    extra = (
        variant(chat, "chat-mistral-7b", 0.8, saturation_rps=30.0, base_s=0.04, queue_s=0.08),
        variant(
            chat, "chat-llama-70b", 1.15, saturation_rps=5.0, base_s=0.25, queue_s=0.3, itl_s=0.03
        ),
        variant(
            qwen, "code-small", 1.35, saturation_rps=12.0, base_s=0.08, queue_s=0.2, itl_s=0.015
        ),
        # Decode-bound: inter-token latency reaches its target before TTFT does.
        variant(
            chat,
            "chat-slow-decode",
            1.1,
            saturation_rps=8.0,
            base_s=0.05,
            queue_s=0.05,
            itl_s=0.028,
        ),
        variant(embed, "embed-e5", 0.9, saturation_rps=120.0, base_s=0.05, queue_s=0.04),
    )
    return simulated.DEPLOYMENTS + extra


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("--interval", type=float, default=10.0, help="sample interval, s (10)")
    database_arguments(p, DEFAULT_DATABASE_URL)
    return p.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    with django_on_new_database(args.database_url, keep=args.keep_db):
        return run(args)


def run(args: argparse.Namespace) -> int:
    import msgspec
    from django.db.models import Sum

    from collectors.ingest import ingest_batch
    from collectors.models import Deployment, DeploymentSettings
    from collectors.services import agent_create
    from costs.economics.idle import idle_series
    from costs.models import CostRecord
    from costs.pipeline import rollup_pending
    from telemetry.capacity import capacity_estimates_update
    from telemetry.models.capacity import CapacityBasis, CapacityEstimate

    deployments = fleet()
    agent = agent_create("bench-headroom")[0]
    start = DAY.timestamp()
    end = DAY + timedelta(days=1)
    started = time.perf_counter()
    for hour in range(24):
        body = simulated.batch_body(
            start + hour * 3600, start + (hour + 1) * 3600, args.interval, deployments
        )
        ingest_batch(agent, msgspec.json.encode(body), now=end + timedelta(hours=1))
    stored = time.perf_counter() - started
    started = time.perf_counter()
    rollup_pending(now=end + timedelta(minutes=5))
    rolled = time.perf_counter() - started
    for name, (ttft, itl, e2e) in SLOS.items():
        for dep in Deployment.objects.filter(name=name):
            DeploymentSettings.objects.update_or_create(
                deployment=dep,
                defaults={"slo_ttft_ms": ttft, "slo_itl_ms": itl, "slo_e2e_ms": e2e},
            )
    started = time.perf_counter()
    estimated = capacity_estimates_update(now=end)
    knee_s = time.perf_counter() - started
    print(
        f"a day of {len(deployments)} simulated deployments at {args.interval:g} s: stored in"
        f" {stored:.1f} s, rolled up in {rolled:.1f} s; {estimated} knees estimated in"
        f" {knee_s:.2f} s"
    )
    print()
    header = (
        f"{'deployment':18} {'peak/true':>9} {'true rps':>9} {'est rps':>9} {'error':>7}"
        f"  {'basis':12} {'binds':5} {'now rps':>8} {'headroom':>8} {'replicas now/peak':>17}"
    )
    print(header)
    print("-" * len(header))
    estimates = {
        e.deployment.name: e for e in CapacityEstimate.objects.select_related("deployment")
    }
    worst = 0.0
    checked = 0
    for sim in deployments:
        est = estimates.get(sim.name)
        slo = SLOS.get(sim.name, (2000.0, 100.0, 30000.0))
        true = simulated.capacity_at_slo(sim, *slo)
        if est is None or est.basis == CapacityBasis.NO_TRAFFIC or not true:
            print(
                f"{sim.name:18} {'-':>9} {'-':>9} {'-':>9} {'-':>7}"
                "  no traffic: nothing to estimate"
            )
            continue
        error = (est.capacity_rps or 0.0) / true - 1
        worst = max(worst, abs(error))
        checked += 1
        headroom = est.headroom
        print(
            f"{sim.name:18} {sim.peak_rps / true:9.2f} {true:9.3f} {est.capacity_rps:9.3f}"
            f" {error:+7.1%}  {est.basis:12} {est.binding_metric or '-':5}"
            f" {est.current_rps:8.3f} {headroom if headroom is None else f'{headroom:.0%}':>8}"
            f" {f'{est.replicas_needed}/{est.replicas_needed_peak}':>17}"
        )
    ok = worst <= TARGET
    print()
    print(
        f"worst error {worst:.1%} over {checked} deployments with traffic:"
        f" {'within' if ok else 'NOT within'} the {TARGET:.0%} target"
    )
    bill = CostRecord.objects.aggregate(total=Sum("usd"))["total"]
    steps = idle_series(DAY, end, 86400)
    parts = sum((s.usd for s in steps), start=bill * 0)
    held = sum((s.idle_held_usd for s in steps), start=bill * 0)
    truly = sum((s.truly_idle_usd for s in steps), start=bill * 0)
    print(
        f"bill ${bill:.6f} = active ${parts - held - truly:.6f} + idle-held ${held:.6f}"
        f" + truly idle ${truly:.6f}: {'equal to the cent' if parts == bill else 'NOT EQUAL'}"
    )
    return 0 if ok and parts == bill else 1


if __name__ == "__main__":
    sys.exit(main())
