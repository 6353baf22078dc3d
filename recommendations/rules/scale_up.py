"""Rule 6: a service whose requests queue while latency is over target, with the KV cache
full or the load past what a replica carries (its live capacity estimate), needs more
replicas. This costs money rather than saving it: the finding states the cost as a
negative saving, next to the SLO breaches it avoids."""

import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from collectors.models import Deployment, DeploymentSettings, settings_for
from inferscope.lib.money import DAYS_PER_MONTH
from recommendations.choices import Confidence
from recommendations.rules import data, register
from recommendations.rules.base import Context, Finding, Rule
from recommendations.rules.live import live_estimates, live_evidence, live_words
from recommendations.rules.replicas import rate
from telemetry.models import InferenceRollup
from telemetry.models.capacity import CapacityBasis, CapacityEstimate


@dataclass(frozen=True)
class Hour:
    """One hour of a service: its replicas' rollups merged."""

    bucket: datetime
    rows: list[InferenceRollup]
    waiting: float
    kv: float | None
    ttft: float | None
    itl: float | None
    tokens_per_s: float
    requests: int
    rps: float  # finished requests per second, the replicas' sum

    @property
    def rps_per_replica(self) -> float:
        return self.rps / len(self.rows) if self.rows else 0.0


def merge_hour(bucket: datetime, rows: list[InferenceRollup]) -> Hour:
    # Pooled over replicas: one replica full while another idles is a balancing
    # problem, not a capacity one.
    kv_n = sum(r.kv_cache_n for r in rows)
    return Hour(
        bucket=bucket,
        rows=rows,
        waiting=max((r.waiting_max or 0) for r in rows),
        kv=sum(r.kv_cache_sum for r in rows) / kv_n if kv_n else None,
        ttft=data.latency_ms(rows, "ttft_hist"),
        itl=data.latency_ms(rows, "itl_hist"),
        tokens_per_s=sum(data.tokens_per_s(r) for r in rows),
        requests=sum(r.requests for r in rows),
        rps=sum(r.requests / r.present_s for r in rows if r.present_s),
    )


def p95(values: Sequence[float]) -> float:
    """Linear interpolation between closest ranks (numpy's default)."""
    ordered = sorted(values)
    rank = 0.95 * (len(ordered) - 1)
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


@register
class ScaleUpSlo(Rule):
    """Config: deployments with the same name are replicas of one service, judged
    together with their hourly rollups merged; `min_hours` (24): fewer hours of data
    say nothing. A "breach hour" has requests waiting (waiting_max > 0), a p95 TTFT or
    ITL over the service's target (the lowest-id replica with stored settings sets
    them, else the defaults), and either the KV-cache average at least `kv_full` (0.9)
    or the hour's requests/s per replica at least what one replica carries within its
    targets by the live capacity estimate (live.py: measured, the smallest of the
    replicas'): a server saturated in compute queues with room left in its cache.
    Fires at `min_breach_hours` (3) breach hours.

    Replicas needed, with a live estimate = ceil(p95 requests/s of the breach hours /
    the estimate's requests/s); without one = ceil(current x p95 tokens/s of the
    breach hours / p95 tokens/s of the hours that met both targets) (current + 1
    where no hour met them); at least current + 1 and at most `max_growth` (2) x
    current either way; current counts the replicas that reported in the window.
    Cost = extra replicas x the window's cost / current replicas, as a month."""

    name = "scale_up_slo"
    min_hours = 24
    kv_full = 0.9
    min_breach_hours = 3
    max_growth = 2
    full_share = 0.9

    def evaluate(self, ctx: Context) -> list[Finding]:
        traffic = data.hourly_traffic(ctx)
        if not traffic:
            return []
        services: dict[str, list[Deployment]] = defaultdict(list)
        for dep in Deployment.objects.filter(pk__in=traffic).select_related("node", "settings"):
            services[dep.name].append(dep)
        findings = []
        for name, deps in sorted(services.items()):
            deps.sort(key=lambda d: d.pk)
            found = self._judge(name, deps, traffic, ctx)
            if found is not None:
                findings.append(found)
        return findings

    def _judge(
        self,
        name: str,
        deps: list[Deployment],
        traffic: dict[int, list[InferenceRollup]],
        ctx: Context,
    ) -> Finding | None:
        by_hour: dict[datetime, list[InferenceRollup]] = defaultdict(list)
        for dep in deps:
            for row in traffic[dep.pk]:
                by_hour[row.bucket].append(row)
        if len(by_hour) < self.min_hours:
            return None
        hours = [merge_hour(bucket, by_hour[bucket]) for bucket in sorted(by_hour)]
        stored = [d.settings for d in deps if hasattr(d, "settings")]
        st = stored[0] if stored else settings_for(deps[0])
        knee = next(iter(live_estimates(ctx, deps)), None)
        breach = [h for h in hours if self._breached(h, st, knee)]
        if len(breach) < self.min_breach_hours:
            return None
        met = [h for h in hours if self._met(h, st)]
        current = len(deps)
        need_tps = p95([h.tokens_per_s for h in breach])
        met_tps = p95([h.tokens_per_s for h in met]) if met else 0.0
        need_rps = p95([h.rps for h in breach])
        if knee is not None and knee.capacity_rps:
            knee_rps = knee.capacity_rps
            needed = max(current + 1, math.ceil(round(need_rps / knee_rps, 6)))
            sizing = (
                f"replicas needed = ceil({rate(need_rps)} requests/s, the p95 of the breach"
                f" hours, / {rate(knee_rps)} requests/s that one replica carries within its"
                f" targets by its live capacity estimate) = {needed}"
            )
            if needed > self.max_growth * current:
                needed = self.max_growth * current
                sizing += f", at most {self.max_growth} x {current} per step = {needed}"
        elif met_tps > 0:
            # Rounded first so a ratio of exactly 2 does not ceil to 3 on float noise.
            needed = max(current + 1, math.ceil(round(current * need_tps / met_tps, 6)))
            sizing = (
                f"replicas needed = ceil({current} x {need_tps:,.0f} / {met_tps:,.0f}"
                f" tokens/s, the p95 of the breach hours over the p95 of the {len(met)}"
                f" hours that met the targets) = {needed}"
            )
            if needed > self.max_growth * current:
                # The hours that met the targets may just have been quiet ones: their
                # load is no capacity measure, so add at most this much per step.
                needed = self.max_growth * current
                sizing += f", at most {self.max_growth} x {current} per step = {needed}"
        else:
            needed = current + 1
            sizing = f"no hour met the targets: replicas needed = {current} + 1 = {needed}"
        extra = needed - current
        window_usd = sum(data.deployment_costs(ctx, [d.pk for d in deps]).values(), Decimal(0))
        per_replica = data.monthly(window_usd / current, ctx)
        cost = data.cents(per_replica * extra)
        kv = sum(r.kv_cache_sum for h in breach for r in h.rows) / max(
            sum(r.kv_cache_n for h in breach for r in h.rows), 1
        )
        ttft = data.latency_ms([r for h in breach for r in h.rows], "ttft_hist")
        itl = data.latency_ms([r for h in breach for r in h.rows], "itl_hist")
        requests = sum(h.requests for h in breach)
        over = [
            self._over(label, merged, [getattr(h, attr) for h in breach], target)
            for label, attr, merged, target in (
                ("TTFT", "ttft", ttft, st.slo_ttft_ms),
                ("ITL", "itl", itl, st.slo_itl_ms),
            )
        ]
        replicas = "replica" if extra == 1 else "replicas"
        full_cache = all(self._full(h) for h in breach)
        if full_cache or knee is None:
            why = f"with the KV cache {kv * 100:.0f}% full"
        else:
            why = (
                f"with the load past the {rate(knee.capacity_rps or 0.0)} requests/s one replica"
                f" carries within its targets (the KV cache {kv * 100:.0f}% full)"
            )
        action = (
            f"Add {extra} {replicas} to {name} (about ${cost:,} a month): in {len(breach)} of"
            f" {len(hours)} hours requests queued {why} and"
            f" {' and '.join(o for o in over if o)}, {requests:,} requests."
        )
        arithmetic = (
            f"{sizing}; ${data.cents(window_usd)} over {ctx.days} days / {current} replica(s)"
            f" x {DAYS_PER_MONTH} / {ctx.days} = ${per_replica} per replica-month;"
            f" {extra} x ${per_replica} = ${cost} a month, a cost: stated as -${cost}"
        )
        doubts = [
            *([] if len(hours) >= self.full_share * ctx.days * 24 else [f"{len(hours)} hours"]),
            *(
                []
                if met or knee is not None
                else ["no hour met the targets: one replica more is a floor"]
            ),
            *(
                ["the live capacity is extrapolated beyond the load seen"]
                if knee is not None and knee.basis == CapacityBasis.EXTRAPOLATED
                else []
            ),
            *([] if stored else ["the targets are the defaults, not set for this service"]),
            *([] if window_usd > 0 else ["no cost recorded"]),
        ]
        return Finding(
            key=f"service:{name}",
            title=f"Add capacity to {name}",
            action=action,
            monthly_saving_usd=-cost,
            arithmetic=arithmetic,
            confidence=Confidence.MEDIUM if doubts else Confidence.HIGH,
            evidence={
                "replicas": current,
                "replicas_needed": needed,
                "deployment_ids": [d.pk for d in deps],
                "nodes": [d.node.name for d in deps],
                "hours": len(hours),
                "breach_hours": len(breach),
                "breach_requests": requests,
                "met_hours": len(met),
                "kv_pct_breach": round(kv * 100, 1),
                "p95_ttft_breach_ms": None if ttft is None else round(ttft, 1),
                "p95_itl_breach_ms": None if itl is None else round(itl, 1),
                "slo_ttft_ms": st.slo_ttft_ms,
                "slo_itl_ms": st.slo_itl_ms,
                "p95_tokens_per_s_breach": round(need_tps, 1),
                "p95_tokens_per_s_met": round(met_tps, 1),
                "p95_requests_per_s_breach": round(need_rps, 3),
                "capacity_source": (
                    "live estimate" if knee is not None else "met hours" if met_tps else "floor"
                ),
                "capacity_estimate": None if knee is None else live_evidence(knee),
                "capacity_estimate_words": None if knee is None else live_words(knee),
                "window_usd": str(data.cents(window_usd)),
                "usd_per_replica_month": str(per_replica),
                "monthly_cost_usd": str(cost),
                "confidence_why": "; ".join(doubts) or "a full window, measured at the targets",
                "chart": self._chart(hours, st),
            },
            deployment_id=deps[0].pk,
            node_id=deps[0].node_id,
        )

    def _full(self, h: Hour) -> bool:
        return h.kv is not None and h.kv >= self.kv_full

    def _breached(self, h: Hour, st: DeploymentSettings, knee: CapacityEstimate | None) -> bool:
        over = (h.ttft is not None and h.ttft > st.slo_ttft_ms) or (
            h.itl is not None and h.itl > st.slo_itl_ms
        )
        if h.waiting <= 0 or not over:
            return False
        if self._full(h):
            return True
        # Queueing and late with cache to spare: a capacity shortage only where the
        # load was past the knee, not a burst of long prompts on a quiet hour.
        return knee is not None and h.rps_per_replica >= (knee.capacity_rps or float("inf"))

    @staticmethod
    def _met(h: Hour, st: DeploymentSettings) -> bool:
        """Every latency measured that hour within its target (and one at least)."""
        pairs = [
            (v, t) for v, t in ((h.ttft, st.slo_ttft_ms), (h.itl, st.slo_itl_ms)) if v is not None
        ]
        return bool(pairs) and all(v <= t for v, t in pairs)

    @staticmethod
    def _over(label: str, merged: float | None, hourly: list[float | None], target: float) -> str:
        """The breach as the action states it: the p95 over all breach hours, or where
        that is within target, the worst hour's."""
        if merged is not None and merged > target:
            return f"p95 {label} {merged:,.0f} ms against a {target:,.0f} ms target"
        worst = max((v for v in hourly if v is not None), default=None)
        if worst is not None and worst > target:
            return f"hourly p95 {label} up to {worst:,.0f} ms against a {target:,.0f} ms target"
        return ""

    @staticmethod
    def _chart(hours: list[Hour], st: DeploymentSettings) -> dict[str, Any]:
        return data.chart(
            "p95 time to first token against its target, and KV-cache use",
            [h.bucket for h in hours],
            [
                ("p95 TTFT (ms)", [None if h.ttft is None else round(h.ttft, 1) for h in hours]),
                ("KV cache %", [None if h.kv is None else round(h.kv * 100, 1) for h in hours]),
            ],
            "ms / %",
            x_title="hour",
            lines=[("TTFT target (ms)", st.slo_ttft_ms)],
        )
