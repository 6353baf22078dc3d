"""Rule 7: prompts that share a long prefix pay its prefill on every request unless
the server caches it; a cache that is on but rarely hits is usually mis-routed."""

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from statistics import median
from typing import Any

from django.db.models import Count

from collectors.choices import ServerKind
from collectors.models import Deployment, DeploymentSettings, settings_for
from inferscope.lib.money import DAYS_PER_MONTH
from profiling.selectors import results_ok
from recommendations.choices import Confidence
from recommendations.explain.chart import chart
from recommendations.explain.money import cents, monthly, monthly_arithmetic
from recommendations.inputs.phases import PrefillPrice, prefill_prices
from recommendations.inputs.sweeps import ServedLoad, distance, load_of
from recommendations.inputs.window import Sweep, deployment_costs, latest_profilings
from recommendations.rules import register
from recommendations.rules.base import Context, Finding, StagedRule
from telemetry.hourly import TrafficHour, hourly_traffic

# How each server turns its prefix cache on.
HOW_TO_ENABLE = {
    ServerKind.VLLM: "vLLM --enable-prefix-caching",
    ServerKind.SGLANG: "SGLang RadixAttention: drop --disable-radix-cache",
    ServerKind.TGI: "TGI PREFIX_CACHING=1, the default since 3.0",
    ServerKind.TRTLLM: "TensorRT-LLM KV-cache reuse: kv_cache_config.enable_block_reuse",
}
# Without a sweep: a prefilled token costs about 1/k of a generated token's GPU time.
# A decode step reads every weight to make one token per sequence (memory-bound);
# prefill pushes a whole prompt through each weight read (compute-bound). At the tens
# of sequences servers batch, an 8B model on an H100 prefills some 10^4 tokens/s but
# decodes a few 10^3 tokens/s summed over the batch: about an order of magnitude.
PREFILL_COST_RATIO = 10
PCT = Decimal("0.01")


def _frac(value: float) -> Decimal:
    return Decimal(str(value)).quantize(PCT)


def _pct(value: Decimal) -> str:
    return f"{value * 100:.0f}%"


@dataclass(frozen=True)
class Served:
    """The window's traffic of a deployment, summed."""

    requests: int
    prompt: int  # prompt tokens
    queries: int  # prompt tokens the prefix cache was asked for
    hits: int
    avg_prompt: float  # tokens per request
    avg_gen: float


def served(rows: Sequence[TrafficHour]) -> Served | None:
    requests = sum(r.requests for r in rows)
    prompt = sum(r.prompt_tokens for r in rows)
    if not requests or not prompt:
        return None
    return Served(
        requests=requests,
        prompt=prompt,
        queries=sum(r.prefix_cache_queries for r in rows),
        hits=sum(r.prefix_cache_hits for r in rows),
        avg_prompt=prompt / requests,
        avg_gen=sum(r.generation_tokens for r in rows) / requests,
    )


def prefill_share(
    sweep: Sweep | None, rows: Sequence[TrafficHour], avg_prompt: float, avg_gen: float
) -> tuple[float, bool]:
    """The share of a served request's GPU time spent in prefill, and whether a
    sweep measured it."""
    points = [r for r in results_ok(sweep[1]) if r.ttft_ms] if sweep else []
    if points:
        load = load_of(rows) or ServedLoad(avg_prompt, avg_gen, 0.0)
        # Without a concurrency (no e2e histogram) every batch size is as near.
        if load.concurrency:
            nearest = min(distance(r, load) for r in points)
            near = [r for r in points if distance(r, load) == nearest]
        else:
            nearest_shape = min(distance(r, load)[0] for r in points)
            near = [r for r in points if distance(r, load)[0] == nearest_shape]
        shares = []
        for r in near:
            if not r.prompt_len:
                continue  # only the ORM can store one; the API refuses it
            # One request at the sweep's batch: its prompt's prefill (TTFT per
            # prompt token, at the served prompt length) against its decode steps.
            prefill = avg_prompt * (r.ttft_ms or 0.0) / r.prompt_len
            decode = max(avg_gen - 1, 0.0) * (r.itl_ms or 0.0)
            if prefill + decode > 0:
                shares.append(prefill / (prefill + decode))
        if shares:
            return median(shares), True
    return avg_prompt / (avg_prompt + PREFILL_COST_RATIO * avg_gen), False


@dataclass(frozen=True)
class PrefixInputs:
    """A deployment of a server that can cache prefixes, over the window."""

    ctx: Context
    deployment: Deployment
    settings: DeploymentSettings
    rows: tuple[TrafficHour, ...]  # hourly, oldest first
    window_usd: Decimal
    replicas: int  # deployments of its name
    price: PrefillPrice | None  # where its phases were measured in enough hours
    sweep: Sweep | None  # its latest finished profiling sweep


@dataclass(frozen=True)
class PrefixDecision:
    off: bool  # caching is off (or taken as off): enable it
    served: Served
    expected: Decimal  # hit fraction the shared prefix should give
    current: Decimal  # hit rate measured
    share: Decimal  # prefill's share of GPU time (or of active $ where priced)
    measured: bool  # that share was measured, not modelled
    window_saved: Decimal | None  # $ over the window, where priced per prompt token
    usd: Decimal  # $ a month
    full: bool  # the rows cover enough of the window

    @property
    def gain(self) -> Decimal:
        return self.expected - self.current


@register
class PrefixCaching(StagedRule[PrefixInputs, PrefixDecision]):
    """For vLLM, SGLang, TGI and TensorRT-LLM deployments whose settings say how many tokens most
    prompts share (shared_prefix_tokens).

    Case A, caching off (settings say so, or the server counted no cache queries
    while it served traffic and settings do not say it is on), with a shared prefix
    of at least `min_shared_tokens` in longer prompts: enable it. Case B, caching on
    but its hit rate over the window under `low_hit_rate` while the prefix is at
    least `min_shared_share` of the average prompt: route by prefix across replicas,
    or give the cache more memory on a single one.

    Expected hit fraction = shared_prefix_tokens / average prompt tokens (each
    replica misses a prefix once; over a window of traffic that is nothing).

    Where the server timed its phases (vLLM's per-request prefill/decode times,
    TGI's batch times) in at least `min_hours` served hours, a hit is priced at
    what the deployment paid per prompt token it computed: the saving is (expected
    - current hit rate) x the window's prompt tokens x (prefill $ / computed prompt
    tokens of those hours), from economics' hourly prefill/decode split. Only hours
    with traffic count: an idle hour's dollars are not spent on prefill, so a cache
    saves none of them. Otherwise the saving is the cost x the prefill share of GPU
    time x (expected - current hit rate), the prefill share from the deployment's
    latest sweep at the point nearest its served request shape and concurrency
    (TTFT against (gen_len - 1) x ITL, scaled to the served prompt and generated
    tokens), else from PREFILL_COST_RATIO at the served prompt:generated token mix.

    Config: `min_hours` (24): fewer hourly traffic rows say nothing;
    `min_shared_tokens` (256); `low_hit_rate` (0.10); `min_shared_share` (0.5);
    `min_gain` (0.10): a smaller expected gain in hit rate says nothing;
    `full_share` (0.9) of the window's hours for MEDIUM confidence. Never HIGH: the
    shared prefix is what people declared, not a measurement.
    """

    name = "prefix_caching"
    min_hours = 24
    min_shared_tokens = 256
    low_hit_rate = 0.10
    min_shared_share = 0.5
    min_gain = 0.10
    full_share = 0.9

    def gather(self, ctx: Context) -> list[PrefixInputs]:
        deployments = list(
            Deployment.objects.filter(server_kind__in=list(HOW_TO_ENABLE)).select_related(
                "node", "settings"
            )
        )
        if not deployments:
            return []
        ids = [d.pk for d in deployments]
        traffic = hourly_traffic(ctx.start, ctx.end, ids)
        costs = deployment_costs(ctx, ids)
        prices = prefill_prices(ctx, ids, self.min_hours)
        sweeps = latest_profilings(ids)
        # Deployments of one name on several nodes are replicas of one service.
        replicas = dict(
            Deployment.objects.filter(name__in={d.name for d in deployments})
            .values("name")
            .annotate(n=Count("id"))
            .values_list("name", "n")
        )
        return [
            PrefixInputs(
                ctx=ctx,
                deployment=dep,
                settings=settings_for(dep),
                rows=tuple(traffic.get(dep.pk, [])),
                window_usd=costs.get(dep.pk) or Decimal(0),
                replicas=replicas.get(dep.name, 1),
                price=prices.get(dep.pk),
                sweep=sweeps.get(dep.pk),
            )
            for dep in deployments
        ]

    def decide(self, inputs: PrefixInputs) -> PrefixDecision | None:
        rows, st, ctx = inputs.rows, inputs.settings, inputs.ctx
        shared = st.shared_prefix_tokens
        s = served(rows)
        if len(rows) < self.min_hours or inputs.window_usd <= 0 or not shared or s is None:
            return None
        off = st.prefix_caching is False or (s.queries == 0 and st.prefix_caching is not True)
        expected = _frac(min(shared / s.avg_prompt, 1.0))
        current = _frac(s.hits / s.queries if s.queries else 0.0)
        if off:
            if shared < self.min_shared_tokens or s.avg_prompt <= shared:
                return None
        elif (
            not s.queries
            or current >= _frac(self.low_hit_rate)
            or expected < _frac(self.min_shared_share)
        ):
            return None  # on and hitting, unmeasured, or too little shared to expect more
        gain = expected - current
        if gain < _frac(self.min_gain):
            return None
        window_saved: Decimal | None = None
        if inputs.price is not None:
            # A hit skips a prompt token the server would otherwise compute, at what
            # computing one cost in the hours it served.
            window_saved = cents(float(gain) * s.prompt * inputs.price.per_token)
            usd, share, measured = monthly(window_saved, ctx), _frac(inputs.price.share), True
        else:
            prefill, measured = prefill_share(inputs.sweep, rows, s.avg_prompt, s.avg_gen)
            share = _frac(prefill)
            usd = cents(inputs.window_usd * DAYS_PER_MONTH / ctx.days * share * gain)
        if usd <= 0:
            return None
        full = len(rows) >= self.full_share * ctx.days * 24
        return PrefixDecision(off, s, expected, current, share, measured, window_saved, usd, full)

    def explain(self, inputs: PrefixInputs, decision: PrefixDecision) -> Finding:
        dep, d, s = inputs.deployment, decision, decision.served
        arithmetic, facts = self._arithmetic(inputs, d)
        title, action = self._title_action(inputs, d, facts)
        confidence, why = self._confidence(inputs.settings, d.off, d.measured, d.full)
        price = inputs.price
        return Finding(
            key=f"deployment:{dep.pk}",
            title=title,
            action=action,
            monthly_saving_usd=d.usd,
            arithmetic=arithmetic,
            confidence=confidence,
            evidence={
                "case": "disabled" if d.off else "low_hit_rate",
                "server_kind": dep.server_kind,
                "replicas": inputs.replicas,
                "hours": len(inputs.rows),
                "requests": s.requests,
                "avg_prompt_tokens": round(s.avg_prompt, 1),
                "avg_generated_tokens": round(s.avg_gen, 1),
                "shared_prefix_tokens": inputs.settings.shared_prefix_tokens,
                "prefix_cache_queries": s.queries,
                "prefix_cache_hits": s.hits,
                "expected_hit_fraction": float(d.expected),
                "current_hit_rate": float(d.current),
                "prefill_share": float(d.share),
                "prefill_share_from": self._source(d, price),
                "prefill_usd_per_1m_computed_prompt": (
                    None if price is None else round(price.per_million, 6)
                ),
                "measured_hours": None if price is None else price.hours,
                "window_usd": str(inputs.window_usd),
                "confidence_reason": why,
                "chart": self._chart(inputs.rows, d.off, d.expected),
            },
            deployment_id=dep.pk,
            node_id=dep.node_id,
        )

    @staticmethod
    def _source(d: PrefixDecision, price: PrefillPrice | None) -> str:
        if price is not None:
            return "measured phase times"
        return "profiling sweep" if d.measured else "token mix model"

    def _arithmetic(self, inputs: PrefixInputs, d: PrefixDecision) -> tuple[str, str]:
        """The arithmetic of the saving, and the facts the action states."""
        ctx, s, price = inputs.ctx, d.served, inputs.price
        shared = inputs.settings.shared_prefix_tokens or 0
        facts = (
            f"its prompts average {s.avg_prompt:,.0f} tokens, of which a {shared:,}-token prefix"
            " is shared"
        )
        if price is not None and d.window_saved is not None:
            arithmetic = (
                f"${cents(price.prefill_usd)} of prefill / {price.computed:,} prompt"
                f" tokens computed in {price.hours} served hours = ${price.per_million:.4f}"
                f" per 1M; ({d.expected} expected - {d.current} current hit rate) x {s.prompt:,}"
                f" prompt tokens x ${price.per_million:.4f} per 1M = "
                + monthly_arithmetic(d.window_saved, ctx)
            )
            facts += (
                f", and each prompt token it computes costs ${price.per_million:,.2f} per"
                " million in prefill"
            )
            return arithmetic, facts
        arithmetic = (
            f"${cents(inputs.window_usd)} over {ctx.days} days x {DAYS_PER_MONTH} / {ctx.days}"
            f" x {d.share} prefill share x ({d.expected} expected - {d.current} current hit"
            f" rate) = ${d.usd} per month"
        )
        return arithmetic, facts + f", and prefill is about {_pct(d.share)} of its GPU time"

    def _title_action(self, inputs: PrefixInputs, d: PrefixDecision, facts: str) -> tuple[str, str]:
        dep = inputs.deployment
        if d.off:
            title = f"Enable prefix caching on {dep.name}"
            how = HOW_TO_ENABLE[ServerKind(dep.server_kind)]
            return title, f"{title} ({how}): {facts}."
        hit = (
            f"its prefix cache hit {_pct(d.current)} of prompt tokens where"
            f" {_pct(d.expected)} should hit; {facts}."
        )
        if inputs.replicas > 1:
            return f"Route {dep.name} by prompt prefix", (
                f"Route {dep.name}'s requests to its {inputs.replicas} replicas by prompt prefix"
                f" (session affinity): {hit}"
            )
        return f"Give {dep.name} a larger prefix cache", (
            f"Give {dep.name} more GPU memory for its KV cache so shared prefixes stay"
            f" cached: {hit}"
        )

    def _confidence(
        self, settings: DeploymentSettings, off: bool, measured: bool, full: bool
    ) -> tuple[Confidence, str]:
        reasons = ["the shared prefix length is declared in the settings, not measured"]
        if off and settings.prefix_caching is not False:
            reasons.append("caching is taken as off because the server counted no cache queries")
        if not measured:
            reasons.append("prefill's share of GPU time is modelled, not measured")
        if not full:
            reasons.append("traffic covers only part of the window")
        confidence = Confidence.MEDIUM if len(reasons) == 1 else Confidence.LOW
        return confidence, "; ".join(reasons)

    def _chart(self, rows: Sequence[TrafficHour], off: bool, expected: Decimal) -> dict[str, Any]:
        x = [r.bucket for r in rows]
        if off:
            prompt = [r.prompt_tokens / r.present_s if r.present_s else None for r in rows]
            return chart(
                "Prompt tokens/s, hourly, and the share a prefix cache would skip",
                x,
                [
                    ("prompt tokens/s", prompt),
                    ("shared prefix", [None if p is None else p * float(expected) for p in prompt]),
                ],
                y_title="tokens/s",
            )
        rate = [
            100.0 * r.prefix_cache_hits / r.prefix_cache_queries if r.prefix_cache_queries else None
            for r in rows
        ]
        return chart(
            "Prefix cache hit rate, hourly",
            x,
            [("hit rate", rate)],
            y_title="% of prompt tokens",
            lines=[
                ("expected from the shared prefix", float(expected) * 100),
                ("low", self.low_hit_rate * 100),
            ],
        )
