"""Rule 3: a deployment that keeps hitting its batch limit while its KV cache is mostly
empty and its latency well under target can batch more: raise the limit and serve the
same tokens on fewer GPU-hours."""

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from collectors.models import Deployment, DeploymentSettings, settings_for
from inferscope.lib.money import DAYS_PER_MONTH
from profiling.models import ProfilingResult
from profiling.selectors import results_ok
from recommendations.choices import Confidence
from recommendations.explain.chart import chart
from recommendations.explain.money import cents
from recommendations.inputs.window import (
    Sweep,
    deployment_costs,
    latest_profilings,
)
from recommendations.rules import register
from recommendations.rules.base import Context, Finding, StagedRule
from telemetry.hourly import TrafficHour, hourly_traffic, latency_ms

# What each server calls its limit on sequences batched together.
KNOBS = {
    "vllm": "max_num_seqs",
    "sglang": "max_running_requests",
    "tgi": "max_concurrent_requests",
    "triton": "max_batch_size",
    "trtllm": "max_batch_size",
}

Group = tuple[str, str, str, bool, int, int]  # dtype, quant, attention, compiled, shape


@dataclass(frozen=True)
class Gain:
    """What the sweep measured: the new limit's point against the current limit's."""

    job_id: int
    base: ProfilingResult
    best: ProfilingResult
    ratio: Decimal  # tokens/s at the new limit / at the current one, to 2 places
    exact: bool  # the served setting is fully known and matched


def knob(server_kind: str) -> str:
    return KNOBS.get(server_kind, "batch limit")


def _kv(rows: Sequence[TrafficHour]) -> float | None:
    n = sum(r.kv_cache_n for r in rows)
    return sum(r.kv_cache_sum for r in rows) / n if n else None


def _shape(rows: Sequence[TrafficHour]) -> tuple[float, float] | None:
    """The traffic's mean request: (prompt tokens, generated tokens)."""
    requests = sum(r.requests for r in rows)
    if not requests:
        return None
    prompt = sum(r.prompt_tokens for r in rows)
    return prompt / requests, sum(r.generation_tokens for r in rows) / requests


def _served(st: DeploymentSettings, r: ProfilingResult) -> bool:
    """A point at the served setting; an unknown field (blank, None) matches any."""
    return (
        (not st.dtype or r.dtype == st.dtype)
        and (not st.quant or r.quant == st.quant)
        and (not st.attention or r.attention == st.attention)
        and (st.compiled is None or r.compiled == st.compiled)
    )


def _shape_distance(group: Group, shape: tuple[float, float] | None) -> float:
    if shape is None:
        return 0.0
    prompt, gen = max(group[4], 1), max(group[5], 1)
    return abs(math.log(prompt / max(shape[0], 1.0))) + abs(math.log(gen / max(shape[1], 1.0)))


def profiled_gain(
    sweep: Sweep | None,
    st: DeploymentSettings,
    max_batch: int,
    kv_bound: int,
    shape: tuple[float, float] | None,
) -> Gain | None | bool:
    """The sweep's verdict: a Gain; False where comparable points exist but none above
    the limit meets both targets faster (the sweep argues against raising it); None
    where there is nothing to compare (no sweep, no point at the current limit)."""
    if sweep is None:
        return None
    job, results = sweep
    groups: dict[Group, list[ProfilingResult]] = {}
    for r in results_ok(results):
        if r.tokens_per_s and _served(st, r):
            key = (r.dtype, r.quant, r.attention, r.compiled, r.prompt_len, r.gen_len)
            groups.setdefault(key, []).append(r)
    # A group compares where it measured the current limit and a batch the cache holds.
    comparable = {
        key: points
        for key, points in groups.items()
        if any(p.batch_size == max_batch for p in points)
        and any(max_batch < p.batch_size <= kv_bound for p in points)
    }
    if not comparable:
        return None
    # The shape nearest the traffic's mean request; then, the served setting being
    # partly unknown, the least favourable setting at it.
    nearest = min(_shape_distance(key, shape) for key in comparable)
    gains = [
        _group_gain(job.pk, points, st, max_batch, kv_bound)
        for key, points in comparable.items()
        if _shape_distance(key, shape) <= nearest
    ]
    worst = min(gains, key=lambda g: g.ratio if g else Decimal(0))
    return worst if worst is not None and worst.ratio > 1 else False


def _group_gain(
    job_id: int,
    points: list[ProfilingResult],
    st: DeploymentSettings,
    max_batch: int,
    kv_bound: int,
) -> Gain | None:
    """The largest batch above the limit the cache holds whose point meets both
    targets, against the current limit's point; None where none meets them."""
    base = max((p for p in points if p.batch_size == max_batch), key=lambda p: p.index)
    meeting = [
        p
        for p in points
        if max_batch < p.batch_size <= kv_bound
        and p.itl_ms is not None
        and p.itl_ms <= st.slo_itl_ms
        and p.ttft_ms is not None
        and p.ttft_ms <= st.slo_ttft_ms
    ]
    if not meeting:
        return None
    best = max(meeting, key=lambda p: (p.batch_size, p.index))
    ratio = Decimal(f"{(best.tokens_per_s or 0) / (base.tokens_per_s or 1):.2f}")
    exact = bool(st.dtype and st.quant and st.attention) and st.compiled is not None
    return Gain(job_id, base, best, ratio, exact)


@dataclass(frozen=True)
class DeploymentInputs:
    """One deployment that served in the window, with what its finding needs."""

    ctx: Context
    deployment: Deployment
    settings: DeploymentSettings
    rows: tuple[TrafficHour, ...]  # its hourly rollups, oldest first
    replicated: bool  # other deployments share its name: the action names the node
    window_usd: Decimal
    sweep: Sweep | None  # its latest finished profiling sweep


@dataclass(frozen=True)
class Batching:
    limit: int  # the current max_batch
    capped: tuple[TrafficHour, ...]  # the hours that hit it with the cache mostly empty
    kv: float  # KV-cache average over the capped hours
    itl: float  # the window's p95 ITL, ms
    kv_bound: int  # the largest batch the cache holds at the footprint seen
    new: int  # the proposed limit
    gain: Gain | None  # what a sweep measured; None without a comparable one
    saving: Decimal  # $ a month; 0 without a sweep
    full: bool  # the rows cover enough of the window


@register
class BatchingHeadroom(StagedRule[DeploymentInputs, Batching]):
    """Config: `min_hours` (24): fewer hourly rollups say nothing; a deployment needs
    its max_batch set in its settings; an hour is "capped" when requests waited
    (waiting_max > 0), the batch reached `capped_fill` (0.9) of max_batch and the
    hour's KV-cache average was under `kv_max` (0.6); fires when capped hours are at
    least `capped_share` (0.1) of the hours seen and the window's p95 ITL is under
    `itl_share` (0.5) of the ITL target.

    New limit with a profiling sweep linked to the deployment: the largest batch size
    above the current limit, at most the KV-cache bound floor(max_batch x `kv_target`
    (0.9) / KV average in capped hours) (the cache must hold it at the footprint seen), whose
    point meets both latency targets, at the served setting and the sweep shape
    nearest the traffic's mean request; the saving is the window's cost x (1 - 1/N),
    N its tokens/s over the current limit's. Without a comparable sweep: min(2 x
    max_batch, the KV-cache bound), no saving stated, LOW confidence. A sweep whose
    larger batches all miss a target (or are no faster) keeps the rule silent. HIGH
    confidence needs `full_share` (0.9) of the window's hours, a priced deployment and
    a sweep at the fully known served setting; a sweep's ITL is its median, not a p95."""

    name = "batching_headroom"
    min_hours = 24
    capped_fill = 0.9
    kv_max = 0.6
    capped_share = 0.1
    itl_share = 0.5
    kv_target = 0.9
    full_share = 0.9

    def gather(self, ctx: Context) -> list[DeploymentInputs]:
        traffic = hourly_traffic(ctx.start, ctx.end)
        if not traffic:
            return []
        deployments = list(
            Deployment.objects.filter(pk__in=traffic).select_related("node", "settings")
        )
        names = Counter(
            Deployment.objects.filter(name__in=[d.name for d in deployments]).values_list(
                "name", flat=True
            )
        )
        costs = deployment_costs(ctx, list(traffic))
        sweeps = latest_profilings(list(traffic))
        return [
            DeploymentInputs(
                ctx=ctx,
                deployment=dep,
                settings=settings_for(dep),
                rows=tuple(traffic[dep.pk]),
                replicated=names[dep.name] > 1,
                window_usd=costs.get(dep.pk) or Decimal(0),
                sweep=sweeps.get(dep.pk),
            )
            for dep in deployments
        ]

    def decide(self, inputs: DeploymentInputs) -> Batching | None:
        rows, st, ctx = inputs.rows, inputs.settings, inputs.ctx
        limit = st.max_batch or 0
        if len(rows) < self.min_hours or not limit:
            return None
        capped = tuple(r for r in rows if self._capped(r, limit))
        kv = _kv(capped)
        itl = latency_ms(rows, "itl")
        if (
            len(capped) < self.capped_share * len(rows)
            or not capped
            or not kv
            or itl is None
            or itl >= self.itl_share * st.slo_itl_ms
        ):
            return None
        kv_bound = math.floor(limit * self.kv_target / kv)
        gain = profiled_gain(inputs.sweep, st, limit, kv_bound, _shape(rows))
        if gain is False:
            return None
        new = gain.best.batch_size if isinstance(gain, Gain) else min(2 * limit, kv_bound)
        if new <= limit:
            return None
        saving = (
            cents(inputs.window_usd * DAYS_PER_MONTH / ctx.days * (1 - 1 / gain.ratio))
            if isinstance(gain, Gain)
            else Decimal("0.00")
        )
        full = len(rows) >= self.full_share * ctx.days * 24
        measured = gain if isinstance(gain, Gain) else None
        return Batching(limit, capped, kv, itl, kv_bound, new, measured, saving, full)

    def _capped(self, r: TrafficHour, limit: int) -> bool:
        """Requests waited with the batch at its limit and the KV cache mostly empty."""
        return (
            (r.waiting_max or 0) > 0
            and (r.running_max or 0) >= self.capped_fill * limit
            and r.kv_cache_avg is not None
            and r.kv_cache_avg < self.kv_max
        )

    def explain(self, inputs: DeploymentInputs, decision: Batching) -> Finding:
        dep, d = inputs.deployment, decision
        name = f"{dep.name} on {dep.node.name}" if inputs.replicated else dep.name
        seen = (
            f"requests queued in {len(d.capped)} of {len(inputs.rows)} hours with the KV cache"
            f" {d.kv * 100:.0f}% full"
        )
        act = f"Set {knob(dep.server_kind)} to {d.new} on deployment {name}"
        if d.gain is not None:
            action, arithmetic, confidence, why = self._measured(inputs, d, d.gain, act, seen)
        else:
            action, arithmetic, confidence, why = self._unmeasured(inputs, d, act, seen)
        return Finding(
            key=f"deployment:{dep.pk}",
            title=f"Raise the batch limit of {name}",
            action=action,
            monthly_saving_usd=d.saving,
            arithmetic=arithmetic,
            confidence=confidence,
            evidence=self._evidence(inputs, d, why),
            deployment_id=dep.pk,
            node_id=dep.node_id,
        )

    def _measured(
        self, inputs: DeploymentInputs, d: Batching, gain: Gain, act: str, seen: str
    ) -> tuple[str, str, Confidence, str]:
        """Action, arithmetic, confidence and its reason where a sweep measured the gain."""
        st, ctx, window_usd = inputs.settings, inputs.ctx, inputs.window_usd
        best, base = gain.best, gain.base
        action = (
            f"{act}: profiling shows {gain.ratio}x tokens/s at ITL {best.itl_ms:,.0f} ms"
            f" (target {st.slo_itl_ms:,.0f} ms); {seen}."
        )
        arithmetic = (
            f"{best.tokens_per_s:,.0f} tokens/s at batch {d.new} / {base.tokens_per_s:,.0f}"
            f" at batch {d.limit} = {gain.ratio}x; ${cents(window_usd)} over {ctx.days}"
            f" days x {DAYS_PER_MONTH} / {ctx.days} x (1 - 1/{gain.ratio}) = ${d.saving}"
            " per month (the same tokens on fewer GPU-hours)"
        )
        doubts = [
            *([] if d.full else [f"only {len(inputs.rows)} hours of data"]),
            *([] if window_usd > 0 else ["no cost recorded"]),
        ]
        if not gain.exact:
            doubts.append("the served setting is partly unknown: the least favourable match")
        why = "; ".join(doubts) or "a full window and a sweep at the served setting"
        return action, arithmetic, Confidence.MEDIUM if doubts else Confidence.HIGH, why

    def _unmeasured(
        self, inputs: DeploymentInputs, d: Batching, act: str, seen: str
    ) -> tuple[str, str, Confidence, str]:
        """The same where no sweep compares the two limits: no $ stated, LOW."""
        action = (
            f"{act}: {seen} and p95 ITL {d.itl:,.0f} ms (target"
            f" {inputs.settings.slo_itl_ms:,.0f} ms); run a profiling sweep to measure the gain."
        )
        arithmetic = (
            f"new limit = min(2 x {d.limit}, floor({d.limit} x {self.kv_target} /"
            f" {d.kv:.2f})) = min({2 * d.limit}, {d.kv_bound}) = {d.new}; no profiling sweep"
            " compares this batch size with the current one, so the gain in tokens/s"
            " (and the $ saved) is not estimated: run a profiling sweep at batch"
            f" {d.limit} and {d.new}"
        )
        why = "no profiling sweep measured the throughput at the new limit"
        return action, arithmetic, Confidence.LOW, why

    def _evidence(self, inputs: DeploymentInputs, d: Batching, why: str) -> dict[str, Any]:
        dep, st, gain = inputs.deployment, inputs.settings, d.gain
        return {
            "knob": knob(dep.server_kind),
            "max_batch": d.limit,
            "new_limit": d.new,
            "hours": len(inputs.rows),
            "capped_hours": len(d.capped),
            "kv_pct_capped": round(d.kv * 100, 1),
            "kv_bound": d.kv_bound,
            "p95_itl_ms": round(d.itl, 1),
            "slo_itl_ms": st.slo_itl_ms,
            "slo_ttft_ms": st.slo_ttft_ms,
            "window_usd": str(cents(inputs.window_usd)),
            "node": dep.node.name,
            "chart": self._chart(inputs.rows, d.limit, d.new),
            "profiling": None
            if gain is None
            else {
                "job_id": gain.job_id,
                "setting": gain.best.label,
                "shape": [gain.best.prompt_len, gain.best.gen_len],
                "tokens_per_s_current": gain.base.tokens_per_s,
                "tokens_per_s_new": gain.best.tokens_per_s,
                "ratio": str(gain.ratio),
                "itl_ms": gain.best.itl_ms,
                "ttft_ms": gain.best.ttft_ms,
            },
            "confidence_why": why,
        }

    def _chart(self, rows: Sequence[TrafficHour], limit: int, new: int) -> dict[str, Any]:
        return chart(
            "Batch size against its limit, and KV-cache use",
            [r.bucket for r in rows],
            [
                ("running requests (max)", [r.running_max for r in rows]),
                (
                    "KV cache %",
                    [
                        None if r.kv_cache_avg is None else round(r.kv_cache_avg * 100, 1)
                        for r in rows
                    ],
                ),  # fmt: skip
            ],
            "requests / KV cache %",
            x_title="hour",
            lines=[("batch limit", float(limit)), ("proposed limit", float(new))],
        )
