"""What one replica of a service carries within its latency targets, best source first:
the service's own profiling sweep, else other services serving the same model on
the same GPU model (peers), else the replicas' live capacity estimates (the
economics app's knee, measured only: observed or extrapolated)."""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from collectors.models import Gpu, settings_for
from profiling.models import ProfilingJob, ProfilingResult
from profiling.selectors import results_ok
from recommendations.context import Context
from recommendations.explain.words import rate
from recommendations.inputs.live import live_estimates, live_evidence, live_words
from recommendations.inputs.replicas import Service, gpu_key
from recommendations.inputs.window import latest_profiling
from telemetry.hourly import TrafficHour, latency_ms, tokens_per_s


@dataclass(frozen=True)
class Capacity:
    """The tokens/s one replica carries within its latency targets, and why we think so."""

    per_replica: float
    source: str  # "profiling", "peers" or "live"
    because: str  # "profiling shows 900 tokens/s per replica at ITL 38 ms (target 100 ms)"
    evidence: dict[str, Any]


@dataclass(frozen=True)
class PeerHour:
    """Another service's busiest hour per GPU on one GPU model, within both SLOs."""

    per_gpu: float
    itl_ms: float
    row: TrafficHour
    peer: Service
    gpus: list[Gpu]  # the GPUs that carried it


def capacity(
    ctx: Context,
    service: Service,
    services: Sequence[Service],
    peers: dict[str, PeerHour] | None = None,
) -> Capacity | None:
    """From the newest sweep of a replica on the service's GPU model, else from peers
    (`peers`: peer_hours() where the caller has it), else from the replicas' live
    capacity estimates; None when none says (or the replicas differ in GPUs)."""
    shape = service.shape()
    if shape is None:
        return None
    found = _from_profiling(service, *shape)
    if found is None:
        hours = peer_hours(service, services) if peers is None else peers
        found = _from_peers(service, hours.get(shape[0]), *shape)
    if found is None:
        found = _from_live(ctx, service)
    return found


def _sweep_gpu(job: ProfilingJob) -> str:
    if job.gpu_model:
        return job.gpu_model
    device = job.device_record()
    name = device.name if device is not None and device.type == "cuda" else ""
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
            row_itl = latency_ms([row], "itl")
            row_ttft = latency_ms([row], "ttft")
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


def _from_live(ctx: Context, service: Service) -> Capacity | None:
    """The smallest measured knee among the replicas, in tokens/s (the knee's requests/s
    x the tokens per request it saw): a sweep or a peer says what a replica could do
    at a chosen shape, the knee what this one did with its own traffic."""
    usable = [e for e in live_estimates(ctx, service.replicas) if e.capacity_tokens_s]
    if not usable:
        return None
    estimate = usable[0]
    per_replica = estimate.capacity_tokens_s or 0.0
    replica = next(d for d in service.replicas if d.pk == estimate.deployment_id)
    return Capacity(
        per_replica=per_replica,
        source="live",
        because=(
            f"its live traffic shows a replica ({replica.name} on {replica.node.name}) meets"
            f" its targets up to {rate(estimate.capacity_rps or 0.0)} requests/s,"
            f" {rate(per_replica)} tokens/s ({live_words(estimate)})"
        ),
        evidence=live_evidence(estimate),
    )
