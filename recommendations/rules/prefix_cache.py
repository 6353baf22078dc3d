"""Rule 7: prompts that share a long prefix pay its prefill on every request unless
the server caches it; a cache that is on but rarely hits is usually mis-routed."""

from dataclasses import dataclass
from decimal import Decimal
from statistics import median
from typing import Any

from django.db.models import Count

from collectors.choices import ServerKind
from collectors.models import Deployment, DeploymentSettings, settings_for
from costs.economics.phases import MODEL
from costs.economics.selectors import deployment_economics_series
from inferscope.lib.money import DAYS_PER_MONTH
from profiling.selectors import results_ok
from recommendations.choices import Confidence
from recommendations.rules import data, register
from recommendations.rules.base import Context, Finding, Rule
from recommendations.rules.sweeps import ServedLoad, distance, load_of
from telemetry.models import InferenceRollup

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


@dataclass(frozen=True)
class PrefillPrice:
    """What a deployment paid to compute its prompts, in the hours it served."""

    prefill_usd: float
    computed: int  # prompt tokens not served from the cache
    hours: int
    share: float  # of those hours' dollars

    @property
    def per_token(self) -> float:
        return self.prefill_usd / self.computed

    @property
    def per_million(self) -> float:
        return self.per_token * 1e6


def _frac(value: float) -> Decimal:
    return Decimal(str(value)).quantize(PCT)


def _pct(value: Decimal) -> str:
    return f"{value * 100:.0f}%"


@register
class PrefixCaching(Rule):
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

    def evaluate(self, ctx: Context) -> list[Finding]:
        deployments = list(
            Deployment.objects.filter(server_kind__in=list(HOW_TO_ENABLE)).select_related(
                "node", "settings"
            )
        )
        if not deployments:
            return []
        ids = [d.pk for d in deployments]
        traffic = data.hourly_traffic(ctx, ids)
        costs = data.deployment_costs(ctx, ids)
        prices = self._prefill_prices(ctx, ids)
        # Deployments of one name on several nodes are replicas of one service.
        replicas = dict(
            Deployment.objects.filter(name__in={d.name for d in deployments})
            .values("name")
            .annotate(n=Count("id"))
            .values_list("name", "n")
        )
        findings = []
        for dep in deployments:
            rows = traffic.get(dep.pk, [])
            usd = costs.get(dep.pk) or Decimal(0)
            if len(rows) >= self.min_hours and usd > 0:
                finding = self._finding(
                    ctx, dep, rows, usd, replicas.get(dep.name, 1), prices.get(dep.pk)
                )
                if finding is not None:
                    findings.append(finding)
        return findings

    def _finding(
        self,
        ctx: Context,
        dep: Deployment,
        rows: list[InferenceRollup],
        window_usd: Decimal,
        replicas: int,
        price: PrefillPrice | None = None,
    ) -> Finding | None:
        settings = settings_for(dep)
        shared = settings.shared_prefix_tokens
        requests = sum(r.requests for r in rows)
        prompt = sum(r.prompt_tokens for r in rows)
        if not shared or not requests or not prompt:
            return None
        queries = sum(r.prefix_cache_queries for r in rows)
        hits = sum(r.prefix_cache_hits for r in rows)
        avg_prompt = prompt / requests
        avg_gen = sum(r.generation_tokens for r in rows) / requests
        off = settings.prefix_caching is False or (
            queries == 0 and settings.prefix_caching is not True
        )
        expected = _frac(min(shared / avg_prompt, 1.0))
        current = _frac(hits / queries if queries else 0.0)
        if off:
            if shared < self.min_shared_tokens or avg_prompt <= shared:
                return None
        elif (
            not queries
            or current >= _frac(self.low_hit_rate)
            or expected < _frac(self.min_shared_share)
        ):
            return None  # on and hitting, unmeasured, or too little shared to expect more
        gain = expected - current
        if gain < _frac(self.min_gain):
            return None
        facts = (
            f"its prompts average {avg_prompt:,.0f} tokens, of which a {shared:,}-token prefix"
            " is shared"
        )
        if price is not None:
            # A hit skips a prompt token the server would otherwise compute, at what
            # computing one cost in the hours it served.
            window_saved = data.cents(float(gain) * prompt * price.per_token)
            usd = data.monthly(window_saved, ctx)
            share = _frac(price.share)
            measured, source = True, "measured phase times"
            arithmetic = (
                f"${data.cents(price.prefill_usd)} of prefill / {price.computed:,} prompt"
                f" tokens computed in {price.hours} served hours = ${price.per_million:.4f}"
                f" per 1M; ({expected} expected - {current} current hit rate) x {prompt:,}"
                f" prompt tokens x ${price.per_million:.4f} per 1M = "
                + data.monthly_arithmetic(window_saved, ctx)
            )
            facts += (
                f", and each prompt token it computes costs ${price.per_million:,.2f} per"
                " million in prefill"
            )
        else:
            prefill, measured = self._prefill_share(dep, rows, avg_prompt, avg_gen)
            source = "profiling sweep" if measured else "token mix model"
            share = _frac(prefill)
            usd = data.cents(window_usd * DAYS_PER_MONTH / ctx.days * share * gain)
            arithmetic = (
                f"${data.cents(window_usd)} over {ctx.days} days x {DAYS_PER_MONTH} / {ctx.days}"
                f" x {share} prefill share x ({expected} expected - {current} current hit rate)"
                f" = ${usd} per month"
            )
            facts += f", and prefill is about {_pct(share)} of its GPU time"
        if usd <= 0:
            return None
        full = len(rows) >= self.full_share * ctx.days * 24
        confidence, why = self._confidence(settings, off, measured, full)
        if off:
            title = f"Enable prefix caching on {dep.name}"
            how = HOW_TO_ENABLE[ServerKind(dep.server_kind)]
            action = f"{title} ({how}): {facts}."
        elif replicas > 1:
            title = f"Route {dep.name} by prompt prefix"
            action = (
                f"Route {dep.name}'s requests to its {replicas} replicas by prompt prefix"
                f" (session affinity): its prefix cache hit {_pct(current)} of prompt tokens"
                f" where {_pct(expected)} should hit; {facts}."
            )
        else:
            title = f"Give {dep.name} a larger prefix cache"
            action = (
                f"Give {dep.name} more GPU memory for its KV cache so shared prefixes stay"
                f" cached: its prefix cache hit {_pct(current)} of prompt tokens where"
                f" {_pct(expected)} should hit; {facts}."
            )
        return Finding(
            key=f"deployment:{dep.pk}",
            title=title,
            action=action,
            monthly_saving_usd=usd,
            arithmetic=arithmetic,
            confidence=confidence,
            evidence={
                "case": "disabled" if off else "low_hit_rate",
                "server_kind": dep.server_kind,
                "replicas": replicas,
                "hours": len(rows),
                "requests": requests,
                "avg_prompt_tokens": round(avg_prompt, 1),
                "avg_generated_tokens": round(avg_gen, 1),
                "shared_prefix_tokens": shared,
                "prefix_cache_queries": queries,
                "prefix_cache_hits": hits,
                "expected_hit_fraction": float(expected),
                "current_hit_rate": float(current),
                "prefill_share": float(share),
                "prefill_share_from": source,
                "prefill_usd_per_1m_computed_prompt": (
                    None if price is None else round(price.per_million, 6)
                ),
                "measured_hours": None if price is None else price.hours,
                "window_usd": str(window_usd),
                "confidence_reason": why,
                "chart": self._chart(rows, off, expected),
            },
            deployment_id=dep.pk,
            node_id=dep.node_id,
        )

    def _prefill_prices(self, ctx: Context, ids: list[int]) -> dict[int, PrefillPrice]:
        """Per deployment, prefill $ per prompt token computed over its served hours whose
        phase split was measured; none where fewer than `min_hours` were."""
        series = deployment_economics_series(ctx.start, ctx.end, 3600, ids)
        out: dict[int, PrefillPrice] = {}
        for dep_id, hours in series.items():
            measured = [
                f
                for f in hours.values()
                if f.prompt_tokens > f.cache_hits and f.bases and MODEL not in f.bases
            ]
            if len(measured) < self.min_hours:
                continue
            # Active dollars only: the idle-held part of an hour computed no prompt.
            prefill = sum(f.active_prefill_usd for f in measured)
            cost = sum(float(f.cost_usd - f.idle_held_usd) for f in measured)
            computed = sum(f.prompt_tokens - f.cache_hits for f in measured)
            if prefill > 0 and cost > 0:
                out[dep_id] = PrefillPrice(prefill, computed, len(measured), prefill / cost)
        return out

    def _prefill_share(
        self, dep: Deployment, rows: list[InferenceRollup], avg_prompt: float, avg_gen: float
    ) -> tuple[float, bool]:
        """The share of a served request's GPU time spent in prefill, and whether a
        sweep measured it."""
        found = data.latest_profiling(dep.pk)
        points = [r for r in results_ok(found[1]) if r.ttft_ms] if found else []
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

    def _chart(self, rows: list[InferenceRollup], off: bool, expected: Decimal) -> dict[str, Any]:
        x = [r.bucket for r in rows]
        if off:
            prompt = [r.prompt_tokens / r.present_s if r.present_s else None for r in rows]
            return data.chart(
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
        return data.chart(
            "Prefix cache hit rate, hourly",
            x,
            [("hit rate", rate)],
            y_title="% of prompt tokens",
            lines=[
                ("expected from the shared prefix", float(expected) * 100),
                ("low", self.low_hit_rate * 100),
            ],
        )
