"""What the precision and kernels rules read: a deployment's served setting held
against the points of its latest profiling sweep that differ from it on one axis,
and the load it served over the window."""

import math
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from statistics import median
from typing import Any

from collectors.models import DeploymentSettings
from costs.spend import cost_cells
from profiling.models import ProfilingJob, ProfilingResult
from profiling.selectors import results_ok
from recommendations.context import Context
from recommendations.inputs.window import Sweep
from telemetry.hourly import TrafficHour, busy_s, hourly_traffic

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


def setting_of(obj: Any, axis_fields: Sequence[str]) -> Setting:
    return tuple(getattr(obj, f) for f in axis_fields)


def known(values: Setting) -> bool:
    return all(v is not None and v != "" for v in values)


def served_load(ctx: Context, deployment_id: int) -> ServedLoad | None:
    """Average request shape and concurrency over the window. Concurrency is Little's
    law: seconds spent inside requests (the e2e histogram's sum) per second present."""
    return load_of(hourly_traffic(ctx.start, ctx.end, [deployment_id]).get(deployment_id, []))


def load_of(rows: Sequence[TrafficHour]) -> ServedLoad | None:
    requests = sum(r.requests_ok for r in rows)
    present = sum(r.present_s for r in rows)
    busy = busy_s(rows)
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
    sweep: Sweep | None,
    settings: DeploymentSettings,
    axis: Axis,
    load: ServedLoad | None,
    min_speedup: Decimal,
) -> Comparison | None:
    """The best other setting on `axis` in the deployment's latest sweep, or None.
    Pure: every figure comes from the arguments.

    Points compare only within one (prompt_len, gen_len, batch_size) and with the
    other axis equal; the proposed point must meet the deployment's ITL and TTFT
    targets. With a served load, N is the ratio at the pair nearest to it (the
    gain depends on where the server runs: decode is memory-bound at small batches
    and compute-bound at large ones), best setting there; without one, the
    setting with the highest median ratio over its pairs.
    """
    current = setting_of(settings, axis.fields)
    if not known(current) or sweep is None:
        return None
    job, results = sweep
    points = _points(results, settings, axis)
    pairs = _pairs(points, current, settings, axis)
    if not pairs:
        return None
    pair, ratio, how = _nearest(pairs, load) if load else _by_median(pairs, axis)
    speedup = Decimal(str(round(ratio, 2)))
    if speedup < min_speedup:
        return None
    proposed = setting_of(pair.proposed, axis.fields)
    return Comparison(
        job=job,
        current=current,
        proposed=proposed,
        pair=pair,
        pairs=[p for p in pairs if setting_of(p.proposed, axis.fields) == proposed],
        speedup=speedup,
        how=how,
        results=points,
    )


def _points(
    results: Sequence[ProfilingResult], settings: DeploymentSettings, axis: Axis
) -> list[ProfilingResult]:
    """The sweep's measured points, those with the other axis as served where any."""
    points = [r for r in results_ok(results) if r.tokens_per_s]
    # Hold the other axis at what is served where the sweep measured that; a sweep
    # run with other defaults still shows the ratio between settings on this axis.
    others = setting_of(settings, axis.others)
    matching = [
        r
        for r in points
        if all(
            v in (None, "") or getattr(r, f) == v for f, v in zip(axis.others, others, strict=True)
        )
    ]
    return matching or points


def _pairs(
    points: Sequence[ProfilingResult],
    current: Setting,
    settings: DeploymentSettings,
    axis: Axis,
) -> list[Pair]:
    """Each point that meets the targets, paired with the served setting's point of
    the same shape, batch size and other axis."""
    groups: dict[Group, list[ProfilingResult]] = {}
    for r in points:
        key = (r.prompt_len, r.gen_len, r.batch_size, setting_of(r, axis.others))
        groups.setdefault(key, []).append(r)
    pairs: list[Pair] = []
    for members in groups.values():
        now = [r for r in members if setting_of(r, axis.fields) == current]
        if not now:
            continue
        pairs.extend(
            Pair(now[0], r)
            for r in members
            if setting_of(r, axis.fields) != current and _meets(r, settings)
        )
    return pairs


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
        by_setting.setdefault(setting_of(p.proposed, axis.fields), []).append(p)
    medians = {s: median(p.ratio for p in ps) for s, ps in by_setting.items()}
    setting = max(medians, key=lambda s: medians[s])
    # Chart and quote the pair whose ratio is nearest the median.
    pair = min(by_setting[setting], key=lambda p: abs(p.ratio - medians[setting]))
    return pair, medians[setting], f"median of {len(by_setting[setting])} pairs"


def cost_hours(ctx: Context, deployment_id: int) -> int:
    """Hours of the window in which the deployment cost something."""
    cells = cost_cells(
        ctx.start, ctx.end, ("deployment",), deployment_ids=[deployment_id], charged=True
    )
    return sum(c.hours for c in cells)
