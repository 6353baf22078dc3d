"""Rule 2: a service whose busiest hours fit on fewer replicas than it runs: run fewer,
or on a cheaper GPU model where peers show one carries it (cheaper_gpu), whichever
saves more.

A service is the deployments of one name and model across nodes, its replicas. What
one replica can carry comes from the service's own profiling sweep, else from other
services serving the same model on the same GPU model; daily_troughs reads the same.
"""

import hashlib
import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from collectors.models import Deployment, Gpu, settings_for
from costs.gpu_models import canonical_model
from costs.models import InferenceRollup
from profiling.models import ProfilingJob, ProfilingResult
from profiling.selectors import results_ok
from recommendations.choices import Confidence
from recommendations.rules import register
from recommendations.rules.base import Context, Finding, Rule
from recommendations.rules.data import (
    cents,
    chart,
    deployment_costs,
    deployment_gpus,
    hourly_traffic,
    latency_ms,
    latest_profiling,
    monthly,
    monthly_arithmetic,
    tokens_per_s,
)

HEADROOM = 0.3


def gpu_key(name: str) -> str:
    """GPUs compare by canonical model, or by the reported name where there is none."""
    return canonical_model(name) or name.strip()


def plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def rate(tokens_s: float) -> str:
    """1,200 / 35 / 0.42: whole tokens per second unless that would read 0."""
    return f"{tokens_s:,.0f}" if tokens_s >= 10 else f"{tokens_s:.2g}"


def p95(values: Sequence[float]) -> float:
    """Nearest rank: of 168 hours, the 160th quietest (the 9th busiest)."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]


def replicas_needed(demand: float, per_replica: float, headroom: float = HEADROOM) -> int:
    return max(1, math.ceil(demand * (1 + headroom) / per_replica))


@dataclass
class Service:
    """One name and model's deployments, with every hour they reported in the window."""

    name: str
    model: str
    deployments: dict[int, Deployment]
    # The replicas running now: those that reported in the window's last day.
    replicas: list[Deployment]
    rows: list[InferenceRollup]
    gpus: dict[int, list[Gpu]]

    @property
    def key(self) -> str:
        raw = f"{self.name}|{self.model}"
        if len(raw) > 120:  # the fingerprint column holds 200, rule name included
            raw = f"{self.name[:80]}|{hashlib.sha1(raw.encode()).hexdigest()[:16]}"
        return f"service:{raw}"

    def hourly(self) -> dict[datetime, float]:
        """The service's tokens/s in each hour: its replicas' sum."""
        out: dict[datetime, float] = defaultdict(float)
        for row in self.rows:
            out[row.bucket] += tokens_per_s(row)
        return dict(sorted(out.items()))

    def shape(self) -> tuple[str, int] | None:
        """(GPU model, GPUs per replica) when every replica has the same; None otherwise:
        fewer replicas only works out when any replica can stand in for another."""
        shapes = set()
        for dep in self.replicas:
            gpus = self.gpus.get(dep.pk, [])
            models = {gpu_key(g.model_name) for g in gpus}
            if len(models) != 1 or "" in models:
                return None
            shapes.add((models.pop(), len(gpus)))
        return shapes.pop() if len(shapes) == 1 else None

    def generated_share(self) -> float:
        prompt = sum(r.prompt_tokens for r in self.rows)
        generated = sum(r.generation_tokens for r in self.rows)
        return generated / (prompt + generated) if prompt + generated else 0.5

    def slo(self) -> tuple[float, float]:
        """p95 (ITL, TTFT) targets in ms, the tightest any replica sets."""
        settings = [settings_for(dep) for dep in self.replicas]
        return min(s.slo_itl_ms for s in settings), min(s.slo_ttft_ms for s in settings)


def load_services(ctx: Context) -> list[Service]:
    """Every service that reported in the window, by name then model."""
    traffic = {
        dep: present
        for dep, rows in hourly_traffic(ctx).items()
        if (present := [r for r in rows if r.present_s > 0])
    }
    if not traffic:
        return []
    gpus = deployment_gpus(list(traffic))
    groups: dict[tuple[str, str], list[Deployment]] = defaultdict(list)
    for dep in Deployment.objects.filter(pk__in=list(traffic)).select_related("node", "settings"):
        groups[(dep.name, dep.model)].append(dep)
    recent = ctx.end - timedelta(days=1)
    services = []
    for (name, model), deps in sorted(groups.items()):
        deps.sort(key=lambda d: d.pk)
        services.append(
            Service(
                name=name,
                model=model,
                deployments={d.pk: d for d in deps},
                replicas=[d for d in deps if traffic[d.pk][-1].bucket >= recent],
                rows=[row for d in deps for row in traffic[d.pk]],
                gpus={d.pk: gpus.get(d.pk, []) for d in deps},
            )
        )
    return services


@dataclass(frozen=True)
class Capacity:
    """The tokens/s one replica carries within its latency targets, and why we think so."""

    per_replica: float
    source: str  # "profiling" or "peers"
    because: str  # "profiling shows 900 tokens/s per replica at ITL 38 ms (target 100 ms)"
    evidence: dict[str, Any]


@dataclass(frozen=True)
class PeerHour:
    """Another service's busiest hour per GPU on one GPU model, within both SLOs."""

    per_gpu: float
    itl_ms: float
    row: InferenceRollup
    peer: Service
    gpus: list[Gpu]  # the GPUs that carried it


def capacity(
    service: Service, services: Sequence[Service], peers: dict[str, PeerHour] | None = None
) -> Capacity | None:
    """From the newest sweep of a replica on the service's GPU model, else from peers
    (`peers`: peer_hours() where the caller has it); None when neither says (or the
    replicas differ in GPUs)."""
    shape = service.shape()
    if shape is None:
        return None
    found = _from_profiling(service, *shape)
    if found is None:
        hours = peer_hours(service, services) if peers is None else peers
        found = _from_peers(service, hours.get(shape[0]), *shape)
    return found


def _sweep_gpu(job: ProfilingJob) -> str:
    if job.gpu_model:
        return job.gpu_model
    name = str(job.device.get("name") or "") if job.device.get("type") == "cuda" else ""
    return gpu_key(name) if name else ""


def _from_profiling(service: Service, gpu_model: str, gpus: int) -> Capacity | None:
    sweeps = [
        sweep
        for dep in service.replicas
        if (sweep := latest_profiling(dep.pk)) and _sweep_gpu(sweep[0]) == gpu_model
    ]
    if not sweeps:
        return None
    job, results = max(sweeps, key=lambda s: (s[0].finished_at or s[0].created_at, s[0].pk))
    best = _best_point(service, results)
    if best is None or not best.tokens_per_s:
        return None
    itl, _ = service.slo()
    per_replica = best.tokens_per_s * gpus
    per_gpu = "" if gpus == 1 else f" ({rate(best.tokens_per_s)} per GPU x {gpus} GPUs)"
    return Capacity(
        per_replica=per_replica,
        source="profiling",
        because=(
            f"profiling shows {rate(per_replica)} tokens/s per replica{per_gpu}"
            f" at ITL {best.itl_ms:.0f} ms (target {itl:g} ms)"
        ),
        evidence={
            "profiling_job": job.pk,
            "point": best.index,
            "setting": best.label,
            "batch_size": best.batch_size,
            "shape": [best.prompt_len, best.gen_len],
            "tokens_per_s_per_gpu": best.tokens_per_s,
            "itl_ms": best.itl_ms,
            "ttft_ms": best.ttft_ms,
        },
    )


def _best_point(service: Service, results: Sequence[ProfilingResult]) -> ProfilingResult | None:
    """The highest tokens/s meeting the targets, among points of the served setting
    (where known) at the request shape nearest the service's prompt/generated mix:
    a prefill-heavy shape's tokens/s would promise far more than a chat replica does."""
    settings = [settings_for(dep) for dep in service.replicas]
    dtypes = {s.dtype for s in settings if s.dtype}
    quants = {s.quant for s in settings if s.quant}
    batches = [s.max_batch for s in settings if s.max_batch]
    points = [
        r
        for r in results_ok(results)
        if (not dtypes or r.dtype in dtypes)
        and (not quants or r.quant in quants)
        and (not batches or r.batch_size <= min(batches))
    ]
    if not points:
        return None
    share = service.generated_share()
    prompt, gen = min(
        {(r.prompt_len, r.gen_len) for r in points},
        key=lambda s: (abs(s[1] / (s[0] + s[1]) - share), s),
    )
    itl, ttft = service.slo()
    meeting = [
        r
        for r in points
        if (r.prompt_len, r.gen_len) == (prompt, gen)
        and r.itl_ms is not None
        and r.itl_ms <= itl
        and r.ttft_ms is not None
        and r.ttft_ms <= ttft
    ]
    return max(meeting, key=lambda r: (r.tokens_per_s or 0, -r.index), default=None)


def peer_hours(service: Service, services: Sequence[Service]) -> dict[str, PeerHour]:
    """For each GPU model, the busiest hour per GPU of another service of the same model
    whose p95 latencies met both its targets and this service's: what it carried, not
    what it could, so the figure errs low."""
    if not service.model:
        return {}
    itl, ttft = service.slo()
    best: dict[str, PeerHour] = {}
    for peer in services:
        if peer.model != service.model or peer.key == service.key:
            continue
        for row in peer.rows:
            held = peer.gpus.get(row.deployment_id, [])
            models = {gpu_key(g.model_name) for g in held}
            if len(models) != 1 or "" in models:
                continue
            gpu_model = models.pop()
            per_gpu = tokens_per_s(row) / len(held)
            if per_gpu <= 0 or (gpu_model in best and per_gpu <= best[gpu_model].per_gpu):
                continue
            mine = settings_for(peer.deployments[row.deployment_id])
            row_itl = latency_ms([row], "itl_hist")
            row_ttft = latency_ms([row], "ttft_hist")
            if row_itl is None or row_itl > min(itl, mine.slo_itl_ms):
                continue
            if row_ttft is not None and row_ttft > min(ttft, mine.slo_ttft_ms):
                continue
            best[gpu_model] = PeerHour(per_gpu, row_itl, row, peer, held)
    return best


def _from_peers(
    service: Service, hour: PeerHour | None, gpu_model: str, gpus: int
) -> Capacity | None:
    """What a peer carried per GPU on the service's GPU model, times its GPUs a replica."""
    if hour is None:
        return None
    itl, _ = service.slo()
    per_replica = hour.per_gpu * gpus
    return Capacity(
        per_replica=per_replica,
        source="peers",
        because=(
            f"{hour.peer.name}, serving the same model on {gpu_model}, carried"
            f" {rate(hour.per_gpu)} tokens/s per GPU at p95 ITL {hour.itl_ms:.0f} ms"
            f" (target {itl:g} ms) in its busiest such hour,"
            f" {rate(per_replica)} tokens/s per replica"
        ),
        evidence={
            "peer": hour.peer.name,
            "peer_deployment": hour.row.deployment_id,
            "hour": hour.row.bucket.isoformat(),
            "tokens_per_s_per_gpu": hour.per_gpu,
            "itl_p95_ms": hour.itl_ms,
        },
    )


def demand_chart(
    service: Service, hourly: dict[datetime, float], demand: float, what: str, carries: float
) -> dict[str, Any]:
    """The service's hourly tokens/s against its p95 hour and what `what` carries."""
    return chart(
        f"{service.name}: hourly demand vs {what}",
        list(hourly),
        [("tokens/s", [round(v, 3) for v in hourly.values()])],
        "tokens/s",
        lines=[("p95 hour", round(demand, 3)), (f"capacity of {what}", carries)],
    )


@register
class UnderusedDeployments(Rule):
    """Config: `headroom` (0.3): spare capacity kept above the p95 hour;
    `min_hours` (24): fewer hours of traffic than this say nothing.

    Two options, one finding per service, the larger saving: fewer replicas, or the
    same service on a cheaper GPU model that peers showed can carry it (cheaper_gpu)."""

    name = "underused_deployments"
    headroom = HEADROOM
    min_hours = 24

    def evaluate(self, ctx: Context) -> list[Finding]:
        # Built on this module's Service: imported once this module is loaded, no cycle.
        from recommendations.rules.cheaper_gpu import cheaper_finding, cheaper_gpu, on_demand_book

        services = load_services(ctx)
        book = on_demand_book(ctx) if services else {}
        findings = []
        for service in services:
            count = len(service.replicas)
            hourly = service.hourly()
            if not count or len(hourly) < self.min_hours:
                continue
            ids = [d.pk for d in service.replicas]
            window_usd = sum(deployment_costs(ctx, ids).values(), Decimal(0))
            if window_usd <= 0:
                continue  # unpriced: nothing to save that we can state
            demand = p95(list(hourly.values()))
            peers = peer_hours(service, services)
            fewer: tuple[Capacity, int, Decimal] | None = None
            cap = capacity(service, services, peers) if count >= 2 else None
            if cap is not None:
                needed = replicas_needed(demand, cap.per_replica, self.headroom)
                if needed < count:
                    saved = monthly(window_usd * (count - needed) / count, ctx)
                    fewer = (cap, needed, saved)
            cheaper = cheaper_gpu(ctx, service, peers, book, demand, self.headroom, window_usd)
            if cheaper is not None and cheaper.saving > (fewer[2] if fewer else 0):
                other = {"needed": fewer[1], "monthly_saving_usd": str(fewer[2])} if fewer else None
                findings.append(cheaper_finding(ctx, service, hourly, demand, cheaper, other))
            elif fewer is not None:
                other = cheaper.summary() if cheaper else None
                findings.append(
                    self._finding(ctx, service, hourly, demand, *fewer[:2], window_usd, other)
                )
        return findings

    def _finding(
        self,
        ctx: Context,
        service: Service,
        hourly: dict[datetime, float],
        demand: float,
        cap: Capacity,
        needed: int,
        window_usd: Decimal,
        cheaper: dict[str, Any] | None = None,
    ) -> Finding:
        """`cheaper`: the cheaper GPU option's figures where it saves less, for evidence."""
        count = len(service.replicas)
        saved = window_usd * (count - needed) / count
        full = len(hourly) >= 0.9 * ctx.days * 24
        sizing = (
            f"max(1, ceil({rate(demand)} tokens/s x {1 + self.headroom:g}"
            f" / {rate(cap.per_replica)} tokens/s)) = {plural(needed, 'replica')}"
        )
        what = plural(needed, "replica")
        return Finding(
            key=service.key,
            title=f"Run {service.name} on {what} instead of {count}",
            action=(
                f"Run {service.name} on {what} instead of {count}: its"
                f" busiest hours (p95) carried {rate(demand)} tokens/s and {cap.because}."
            ),
            monthly_saving_usd=monthly(saved, ctx),
            arithmetic=(
                f"{sizing}; "
                + monthly_arithmetic(
                    saved, ctx, f"${cents(window_usd)} x ({count} - {needed}) / {count} replicas"
                )
            ),
            confidence=Confidence.HIGH if cap.source == "profiling" and full else Confidence.MEDIUM,
            evidence={
                "option": "fewer_replicas",
                "service": service.name,
                "model": service.model,
                "replicas": [f"{d.name} on {d.node.name}" for d in service.replicas],
                # What a done recommendation measures its saving on: every replica.
                "deployment_ids": [d.pk for d in service.replicas],
                "hours": len(hourly),
                "demand_p95_tokens_per_s": round(demand, 3),
                "capacity_per_replica_tokens_per_s": round(cap.per_replica, 3),
                "capacity_source": cap.source,
                "capacity": cap.evidence,
                "headroom": self.headroom,
                "needed": needed,
                "window_usd": str(cents(window_usd)),
                "cheaper_gpu": cheaper,
                "chart": demand_chart(service, hourly, demand, what, needed * cap.per_replica),
            },
            deployment_id=service.replicas[0].pk,
        )
