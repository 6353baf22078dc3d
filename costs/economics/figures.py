"""Per deployment and time step: prefill vs decode dollars, cache savings and goodput.

Everything is worked out hour by hour, from the hourly spend (what attribution
charged the deployment) and the hourly inference rollup (its traffic, phase
timings and latency histograms), then summed: an hour's phase split, price per
prompt token and SLO shares apply to that hour's dollars and requests only.

- Prefill $ + decode $ = the deployment's cost, idle-held hours included: an
  hour with no traffic or timings is split as the rest of the period was.
- Cache savings: prefix-cache hits (prompt tokens the server did not compute)
  x that hour's prefill $ per computed prompt token, from the hour's active
  dollars only (idle-held time computed nothing). Each preemption makes the
  server compute the request again (vLLM's default recompute mode): its prompt
  and, on average, half its output, at the same price, counted against it.
- Goodput: the share of finished requests that met the deployment's SLO
  targets, from the latency histograms (interpolated inside a bucket, as
  Prometheus's histogram_fraction does). The histograms are per metric, not
  per request, so a request's meeting all targets is estimated as the smallest
  per-metric share (exact when slow requests are slow on every metric, else an
  upper bound); `good_requests_min` is the lower bound, 1 - the sum of misses.
  Inter-token latency is per token: its share counts tokens within target.
"""

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from collectors.models import Deployment, settings_for
from costs.economics.phases import MIXED, MODEL, PhaseInput, prefill_share
from costs.models import HourlySpend
from telemetry.choices import Resolution
from telemetry.reader import InferenceBucket, inference_buckets, inference_merged

SLO_METRICS = (
    ("ttft", "ttft_hist", "slo_ttft_ms"),
    ("itl", "itl_hist", "slo_itl_ms"),
    ("e2e", "e2e_hist", "slo_e2e_ms"),
)


@dataclass
class Figures:
    """One deployment over one step (or a whole period); dollars as floats for display,
    except cost_usd, which stays exact."""

    cost_usd: Decimal = Decimal(0)
    idle_held_usd: Decimal = Decimal(0)
    # Hours with cost records: traffic on GPUs nobody reported or priced has no unit
    # cost (None, as costs.selectors.CostRow has it), not a plausible-looking $0.
    costed_hours: int = 0
    prefill_usd: float = 0.0
    decode_usd: float = 0.0
    # Prefill's part of the active dollars only: what computing prompts cost, the
    # price of a cache hit (idle-held time computed nothing).
    active_prefill_usd: float = 0.0
    unsplit_usd: float = 0.0  # hours with nothing to split by; see close()
    bases: set[str] = field(default_factory=set)
    requests: int = 0
    requests_ok: int = 0
    prompt_tokens: int = 0
    generation_tokens: int = 0
    cache_hits: int = 0
    cache_queries: int = 0
    preemptions: int = 0
    cache_saved_usd: float = 0.0
    recompute_usd: float = 0.0
    good_requests: float = 0.0
    good_requests_min: float = 0.0
    judged_requests: int = 0  # finished (any outcome) in hours with a histogram to judge by
    met: dict[str, list[float]] = field(default_factory=dict)  # metric: [within, judged]

    def add(self, other: "Figures") -> None:
        for name in (
            "cost_usd",
            "idle_held_usd",
            "costed_hours",
            "prefill_usd",
            "decode_usd",
            "active_prefill_usd",
            "unsplit_usd",
            "requests",
            "requests_ok",
            "prompt_tokens",
            "generation_tokens",
            "cache_hits",
            "cache_queries",
            "preemptions",
            "cache_saved_usd",
            "recompute_usd",
            "good_requests",
            "good_requests_min",
            "judged_requests",
        ):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.bases |= other.bases
        for metric, (within, judged) in other.met.items():
            mine = self.met.setdefault(metric, [0.0, 0.0])
            mine[0] += within
            mine[1] += judged

    def close(self) -> None:
        """Split the hours that had nothing to split by as the known hours were."""
        if not self.unsplit_usd:
            return
        known = self.prefill_usd + self.decode_usd
        share = self.prefill_usd / known if known else None
        if share is None:
            return  # nothing anywhere: prefill/decode stay unknown
        self.prefill_usd += self.unsplit_usd * share
        self.decode_usd += self.unsplit_usd * (1 - share)
        self.unsplit_usd = 0.0

    @property
    def split_known(self) -> bool:
        return bool(self.bases) and not self.unsplit_usd

    @property
    def basis(self) -> str | None:
        """'model' if any hour was modelled, 'mixed' where hours were measured two ways."""
        if not self.bases:
            return None
        if MODEL in self.bases:
            return MODEL
        return next(iter(self.bases)) if len(self.bases) == 1 else MIXED

    @property
    def usd_per_1m_prompt(self) -> float | None:
        if not self.costed_hours or not self.split_known or not self.prompt_tokens:
            return None
        return self.prefill_usd / self.prompt_tokens * 1e6

    @property
    def usd_per_1m_generated(self) -> float | None:
        if not self.costed_hours or not self.split_known or not self.generation_tokens:
            return None
        return self.decode_usd / self.generation_tokens * 1e6

    @property
    def hit_rate(self) -> float | None:
        return self.cache_hits / self.cache_queries if self.cache_queries else None

    @property
    def cache_net_usd(self) -> float:
        return self.cache_saved_usd - self.recompute_usd

    @property
    def goodput(self) -> float | None:
        """Share of finished requests that met the SLO; errors and aborts never do."""
        return self.good_requests / self.judged_requests if self.judged_requests else None

    @property
    def goodput_min(self) -> float | None:
        return self.good_requests_min / self.judged_requests if self.judged_requests else None

    def met_share(self, metric: str) -> float | None:
        within, judged = self.met.get(metric, (0.0, 0.0))
        return within / judged if judged else None

    @property
    def usd_per_good_request(self) -> float | None:
        if not self.costed_hours or not self.good_requests:
            return None
        return float(self.cost_usd) / self.good_requests

    @property
    def usd_per_request(self) -> float | None:
        return float(self.cost_usd) / self.requests if self.costed_hours and self.requests else None


# The rollup counters an hour's figures are worked out from.
_COUNTS = (
    "requests_ok",
    "requests_error",
    "requests_aborted",
    "prompt_tokens",
    "generation_tokens",
    "prefix_cache_hits",
    "prefix_cache_queries",
    "preemptions",
    "active_s",
    "prefill_s",
    "decode_s",
)
_HISTS = tuple(hist for _, hist, _ in SLO_METRICS)


def hour_figures(
    usd: Decimal, idle_held_usd: Decimal, rollup: InferenceBucket | None, kind: str, slo: dict
) -> Figures:
    """One deployment-hour. `slo` maps slo_ttft_ms / slo_itl_ms / slo_e2e_ms to targets."""
    f = Figures(cost_usd=usd, idle_held_usd=idle_held_usd)
    if rollup is None:
        f.unsplit_usd = float(usd)
        return f
    r = rollup
    f.requests_ok = r["requests_ok"]
    f.requests = r.requests
    f.prompt_tokens, f.generation_tokens = r["prompt_tokens"], r["generation_tokens"]
    f.cache_hits, f.cache_queries = r["prefix_cache_hits"], r["prefix_cache_queries"]
    f.preemptions = r["preemptions"]
    split = prefill_share(
        PhaseInput(
            kind,
            r["prefill_s"],
            r["decode_s"],
            r["active_s"],
            r["prompt_tokens"],
            r["generation_tokens"],
        )
    )
    if split is None:
        f.unsplit_usd = float(usd)
    else:
        share, basis = split
        f.bases.add(basis)
        f.prefill_usd = float(usd) * share
        f.decode_usd = float(usd) - f.prefill_usd
        f.active_prefill_usd = float(usd - idle_held_usd) * share
    computed = f.prompt_tokens - f.cache_hits
    if f.active_prefill_usd and computed > 0:
        per_token = f.active_prefill_usd / computed
        f.cache_saved_usd = f.cache_hits * per_token
        if f.preemptions and f.requests:
            redone = (f.prompt_tokens + f.generation_tokens / 2) / f.requests
            f.recompute_usd = f.preemptions * redone * per_token
    _goodput(f, r, slo)
    return f


def _goodput(f: Figures, r: InferenceBucket, slo: dict) -> None:
    shares = []
    for metric, hist_field, target_field in SLO_METRICS:
        share = r.share_within(hist_field, slo[target_field] / 1000)
        if share is None:
            continue
        shares.append(share)
        judged = r.observations(hist_field)
        f.met[metric] = [share * judged, float(judged)]
    if not shares or not f.requests:
        return
    f.judged_requests = f.requests
    f.good_requests = f.requests_ok * min(shares)
    f.good_requests_min = f.requests_ok * max(0.0, 1 - sum(1 - s for s in shares))


def economics_by_step(
    start: datetime, end: datetime, step: int, deployment_ids: Sequence[int] | None = None
) -> dict[int, dict[datetime, Figures]]:
    """{deployment id: {step start: Figures}} over whole UTC hours in [start, end)."""
    spend = HourlySpend.objects.filter(hour__gte=start, hour__lt=end, deployment__isnull=False)
    if deployment_ids is not None:
        spend = spend.filter(deployment_id__in=deployment_ids)
    costs = {
        (dep, hour): (usd, held)
        for hour, dep, usd, held in spend.values_list(
            "hour", "deployment_id", "usd", "idle_held_usd"
        )
    }
    rows = {
        (r.deployment_id, r.bucket): r
        for r in inference_buckets(
            Resolution.HOUR, start, end, deployment_ids, columns=_COUNTS, histograms=_HISTS
        )
    }
    ids = {dep for dep, _ in costs} | {dep for dep, _ in rows}
    deployments = Deployment.objects.filter(pk__in=ids).select_related("settings")
    kinds = {d.pk: d.server_kind for d in deployments}
    slos = {d.pk: _slo(d) for d in deployments}
    out: dict[int, dict[datetime, Figures]] = defaultdict(dict)
    for dep, hour in sorted(costs.keys() | rows.keys()):
        usd, held = costs.get((dep, hour), (Decimal(0), Decimal(0)))
        hour_fig = hour_figures(
            Decimal(str(usd)), Decimal(str(held)), rows.get((dep, hour)), kinds[dep], slos[dep]
        )
        hour_fig.costed_hours = int((dep, hour) in costs)
        at = _floor(hour, step)
        out[dep].setdefault(at, Figures()).add(hour_fig)
    for steps in out.values():
        for fig in steps.values():
            fig.close()
    return dict(out)


def economics_totals(
    start: datetime, end: datetime, deployment_ids: Sequence[int] | None = None
) -> dict[int, Figures]:
    """{deployment id: Figures} over the whole period (step 0: one step)."""
    by_step = economics_by_step(start, end, 0, deployment_ids)
    return {dep: next(iter(steps.values())) for dep, steps in by_step.items()}


def window_figures(
    start: datetime, end: datetime, resolution: int = Resolution.MINUTE
) -> dict[int, tuple[Figures, dict[str, float]]]:
    """{deployment id: (its traffic figures over [start, end) with the rollups added
    together, its SLO targets in ms)}: goodput, hit rate and phase shares of a window
    shorter than an hour (alerts). No dollars: those are attributed per whole hour."""
    windows = inference_merged(resolution, start, end, 0, columns=_COUNTS, histograms=_HISTS)
    out = {}
    for dep in Deployment.objects.filter(pk__in=list(windows)).select_related("settings"):
        slo = _slo(dep)
        window = windows[dep.pk][start]
        out[dep.pk] = (hour_figures(Decimal(0), Decimal(0), window, dep.server_kind, slo), slo)
    return out


def summed(figures: Iterable[Figures]) -> Figures:
    total = Figures()
    for fig in figures:
        total.add(fig)
    total.close()
    return total


def _slo(dep: Deployment) -> dict[str, float]:
    s = settings_for(dep)
    return {"slo_ttft_ms": s.slo_ttft_ms, "slo_itl_ms": s.slo_itl_ms, "slo_e2e_ms": s.slo_e2e_ms}


def _floor(ts: datetime, step: int) -> datetime:
    if step <= 0:
        return datetime.min.replace(tzinfo=ts.tzinfo)
    epoch = int(ts.timestamp())
    return datetime.fromtimestamp(epoch - epoch % step, ts.tzinfo)
