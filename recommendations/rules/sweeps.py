"""What the precision and kernels rules share: a deployment's served setting held
against the points of its latest profiling sweep that differ from it on one axis."""

import math
from abc import abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from statistics import median
from typing import Any

from collectors.models import Deployment, DeploymentSettings, settings_for
from costs.models import CostRecord
from inferscope.lib.money import DAYS_PER_MONTH
from profiling.choices import JobStatus
from profiling.models import ProfilingJob, ProfilingResult
from profiling.selectors import results_ok
from recommendations.choices import Confidence
from recommendations.rules import data
from recommendations.rules.base import Context, Finding, Rule
from telemetry.models import InferenceRollup

Setting = tuple[Any, ...]  # the values of a rule's axis, ("bf16", "none") or ("flash", True)
Group = tuple[int, int, int, Setting]  # prompt_len, gen_len, batch_size, the other axis


@dataclass(frozen=True)
class Axis:
    """The fields a rule may change; the rest of a point's setting must stay equal."""

    fields: tuple[str, ...]
    others: tuple[str, ...]


PRECISION = Axis(("dtype", "quant"), ("attention", "compiled"))
KERNELS = Axis(("attention", "compiled"), ("dtype", "quant"))


@dataclass(frozen=True)
class Pair:
    current: ProfilingResult
    proposed: ProfilingResult

    @property
    def ratio(self) -> float:
        return (self.proposed.tokens_per_s or 0.0) / (self.current.tokens_per_s or 1.0)

    def as_dict(self) -> dict[str, Any]:
        return {
            "prompt_len": self.current.prompt_len,
            "gen_len": self.current.gen_len,
            "batch_size": self.current.batch_size,
            "current_tokens_per_s": self.current.tokens_per_s,
            "proposed_tokens_per_s": self.proposed.tokens_per_s,
            "ratio": round(self.ratio, 3),
        }


@dataclass(frozen=True)
class Comparison:
    """The switch a sweep supports: N = `speedup`, read at `pair`, from `how`."""

    job: ProfilingJob
    current: Setting
    proposed: Setting
    pair: Pair
    pairs: list[Pair]
    speedup: Decimal
    how: str
    results: list[ProfilingResult]


@dataclass(frozen=True)
class ServedLoad:
    prompt_tokens: float  # per request
    gen_tokens: float
    concurrency: float  # requests in flight on average

    def as_dict(self) -> dict[str, float]:
        return {
            "prompt_tokens": round(self.prompt_tokens, 1),
            "gen_tokens": round(self.gen_tokens, 1),
            "concurrency": round(self.concurrency, 2),
        }


def _value(obj: Any, axis_fields: Sequence[str]) -> Setting:
    return tuple(getattr(obj, f) for f in axis_fields)


def _known(values: Setting) -> bool:
    return all(v is not None and v != "" for v in values)


def served_load(ctx: Context, deployment_id: int) -> ServedLoad | None:
    """Average request shape and concurrency over the window. Concurrency is Little's
    law: seconds spent inside requests (the e2e histogram's sum) per second present."""
    return load_of(data.hourly_traffic(ctx, [deployment_id]).get(deployment_id, []))


def load_of(rows: Sequence[InferenceRollup]) -> ServedLoad | None:
    requests = sum(r.requests_ok for r in rows)
    present = sum(r.present_s for r in rows)
    busy = sum(float((r.e2e_hist or {}).get("sum") or 0.0) for r in rows)
    if not requests or not present or not busy:
        return None
    return ServedLoad(
        prompt_tokens=sum(r.prompt_tokens for r in rows) / requests,
        gen_tokens=sum(r.generation_tokens for r in rows) / requests,
        concurrency=busy / present,
    )


def _log_gap(a: float, b: float) -> float:
    return abs(math.log(max(a, 1e-9) / max(b, 1e-9)))


def distance(r: ProfilingResult, load: ServedLoad) -> tuple[float, float]:
    # Shape before batch: a ratio read at the wrong request shape misleads more than
    # one read at a neighbouring batch size.
    shape = _log_gap(r.prompt_len, load.prompt_tokens) + _log_gap(r.gen_len, load.gen_tokens)
    return (round(shape, 9), round(_log_gap(r.batch_size, load.concurrency), 9))


def compare(
    deployment: Deployment,
    settings: DeploymentSettings,
    axis: Axis,
    load: ServedLoad | None,
    min_speedup: Decimal,
) -> Comparison | None:
    """The best other setting on `axis` in the deployment's latest sweep, or None.

    Points compare only within one (prompt_len, gen_len, batch_size) and with the
    other axis equal; the proposed point must meet the deployment's ITL and TTFT
    targets. With a served load, N is the ratio at the pair nearest to it (the
    gain depends on where the server runs: decode is memory-bound at small batches
    and compute-bound at large ones), best setting there; without one, the
    setting with the highest median ratio over its pairs.
    """
    current = _value(settings, axis.fields)
    if not _known(current):
        return None
    found = data.latest_profiling(deployment.pk)
    if found is None:
        return None
    job, results = found
    points = [r for r in results_ok(results) if r.tokens_per_s]
    # Hold the other axis at what is served where the sweep measured that; a sweep
    # run with other defaults still shows the ratio between settings on this axis.
    others = _value(settings, axis.others)
    matching = [
        r
        for r in points
        if all(
            v in (None, "") or getattr(r, f) == v for f, v in zip(axis.others, others, strict=True)
        )
    ]
    points = matching or points
    groups: dict[Group, list[ProfilingResult]] = {}
    for r in points:
        key = (r.prompt_len, r.gen_len, r.batch_size, _value(r, axis.others))
        groups.setdefault(key, []).append(r)
    pairs: list[Pair] = []
    for members in groups.values():
        now = [r for r in members if _value(r, axis.fields) == current]
        if not now:
            continue
        for r in members:
            if _value(r, axis.fields) != current and _meets(r, settings):
                pairs.append(Pair(now[0], r))
    if not pairs:
        return None
    pair, ratio, how = _nearest(pairs, load) if load else _by_median(pairs, axis)
    speedup = Decimal(str(round(ratio, 2)))
    if speedup < min_speedup:
        return None
    proposed = _value(pair.proposed, axis.fields)
    return Comparison(
        job=job,
        current=current,
        proposed=proposed,
        pair=pair,
        pairs=[p for p in pairs if _value(p.proposed, axis.fields) == proposed],
        speedup=speedup,
        how=how,
        results=points,
    )


def _meets(r: ProfilingResult, settings: DeploymentSettings) -> bool:
    return (
        r.itl_ms is not None
        and r.itl_ms <= settings.slo_itl_ms
        and r.ttft_ms is not None
        and r.ttft_ms <= settings.slo_ttft_ms
    )


def _nearest(pairs: list[Pair], load: ServedLoad) -> tuple[Pair, float, str]:
    where = min(distance(p.current, load) for p in pairs)
    there = [p for p in pairs if distance(p.current, load) == where]
    best = max(there, key=lambda p: (p.ratio, -p.proposed.index))
    return best, best.ratio, "served load"


def _by_median(pairs: list[Pair], axis: Axis) -> tuple[Pair, float, str]:
    by_setting: dict[Setting, list[Pair]] = {}
    for p in pairs:
        by_setting.setdefault(_value(p.proposed, axis.fields), []).append(p)
    medians = {s: median(p.ratio for p in ps) for s, ps in by_setting.items()}
    setting = max(medians, key=lambda s: medians[s])
    # Chart and quote the pair whose ratio is nearest the median.
    pair = min(by_setting[setting], key=lambda p: abs(p.ratio - medians[setting]))
    return pair, medians[setting], f"median of {len(by_setting[setting])} pairs"


def cost_hours(ctx: Context, deployment_id: int) -> int:
    return (
        CostRecord.objects.filter(
            deployment_id=deployment_id, hour__gte=ctx.start, hour__lt=ctx.end, usd__gt=0
        )
        .values("hour")
        .distinct()
        .count()
    )


def saving(window_usd: Decimal, ctx: Context, speedup: Decimal) -> tuple[Decimal, str]:
    """The same tokens on 1/N of the GPU time: cost x (1 - 1/N), per month."""
    usd = data.cents(window_usd * DAYS_PER_MONTH / ctx.days * (1 - 1 / speedup))
    text = (
        f"${data.cents(window_usd)} over {ctx.days} days x {DAYS_PER_MONTH} / {ctx.days}"
        f" x (1 - 1/{speedup_text(speedup)}) = ${usd} per month"
    )
    return usd, text


def speedup_text(speedup: Decimal) -> str:
    return format(float(speedup), "g")


def latency_text(r: ProfilingResult, settings: DeploymentSettings) -> str:
    return (
        f"ITL {r.itl_ms:.0f} ms (p95 target {settings.slo_itl_ms:g} ms)"
        f" and TTFT {r.ttft_ms:.0f} ms (target {settings.slo_ttft_ms:g} ms)"
    )


def sweep_chart(c: Comparison, axis: Axis, label: Callable[[Setting], str]) -> dict[str, Any]:
    """Tokens/s by batch size for the served and the proposed setting, at the shape
    (and other-axis setting) where N was read."""
    shape = (c.pair.current.prompt_len, c.pair.current.gen_len)
    other = _value(c.pair.current, axis.others)
    lines: dict[Setting, dict[int, float | None]] = {c.current: {}, c.proposed: {}}
    for r in c.results:
        setting = _value(r, axis.fields)
        if (
            (r.prompt_len, r.gen_len) == shape
            and _value(r, axis.others) == other
            and setting in lines
        ):
            lines[setting][r.batch_size] = r.tokens_per_s
    batches = sorted({b for line in lines.values() for b in line})
    return data.chart(
        f"Tokens/s by batch size, prompt {shape[0]} / generate {shape[1]} tokens",
        batches,
        [
            (
                f"{label(s)} ({'now' if s == c.current else 'proposed'})",
                [ys.get(b) for b in batches],
            )
            for s, ys in lines.items()
        ],
        y_title="tokens/s",
        x_title="batch size",
    )


class SweepRule(Rule):
    """Shared by the precision and kernels rules: the loop over profiled deployments,
    the saving and the evidence; a subclass names its axis and words the finding."""

    axis: Axis
    min_speedup = Decimal("1.1")
    min_cost_hours = 24
    full_share = 0.9

    @abstractmethod
    def label(self, setting: Setting) -> str: ...

    @abstractmethod
    def title(self, deployment: Deployment, c: Comparison) -> str: ...

    @abstractmethod
    def action(
        self, deployment: Deployment, c: Comparison, settings: DeploymentSettings
    ) -> str: ...

    @abstractmethod
    def confidence(self, c: Comparison, full_week: bool) -> tuple[Confidence, str]: ...

    def evaluate(self, ctx: Context) -> list[Finding]:
        profiled = (
            Deployment.objects.filter(profiling_jobs__status=JobStatus.DONE)
            .distinct()
            .select_related("node", "settings")
        )
        return [f for dep in profiled if (f := self._finding(ctx, dep)) is not None]

    def _finding(self, ctx: Context, dep: Deployment) -> Finding | None:
        settings = settings_for(dep)
        if not _known(_value(settings, self.axis.fields)):
            return None
        window_usd = data.deployment_costs(ctx, [dep.pk]).get(dep.pk) or Decimal(0)
        hours = cost_hours(ctx, dep.pk)
        if window_usd <= 0 or hours < self.min_cost_hours:
            return None
        load = served_load(ctx, dep.pk)
        c = compare(dep, settings, self.axis, load, self.min_speedup)
        if c is None:
            return None
        usd, arithmetic = saving(window_usd, ctx, c.speedup)
        if usd <= 0:
            return None
        confidence, why = self.confidence(c, hours >= self.full_share * ctx.days * 24)
        return Finding(
            key=f"deployment:{dep.pk}",
            title=self.title(dep, c),
            action=self.action(dep, c, settings),
            monthly_saving_usd=usd,
            arithmetic=arithmetic,
            confidence=confidence,
            evidence={
                "current": self.label(c.current),
                "proposed": self.label(c.proposed),
                "profiling_job": c.job.pk,
                "gpu_model": c.job.gpu_model,
                "speedup": float(c.speedup),
                "speedup_from": c.how,
                "pair": c.pair.as_dict(),
                "pairs": [p.as_dict() for p in c.pairs],
                "proposed_itl_ms": c.pair.proposed.itl_ms,
                "proposed_ttft_ms": c.pair.proposed.ttft_ms,
                "slo_itl_ms": settings.slo_itl_ms,
                "slo_ttft_ms": settings.slo_ttft_ms,
                "served_load": None if load is None else load.as_dict(),
                "window_usd": str(window_usd),
                "cost_hours": hours,
                "confidence_reason": why,
                "chart": sweep_chart(c, self.axis, self.label),
            },
            deployment_id=dep.pk,
            node_id=dep.node_id,
        )
