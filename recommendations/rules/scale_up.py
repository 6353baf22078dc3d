"""Rule 6: a service whose requests queue while the KV cache is full and latency is over
target needs more replicas. This costs money rather than saving it: the finding states
the cost as a negative saving, next to the SLO breaches it avoids."""

import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from collectors.models import Deployment, DeploymentSettings, settings_for
from costs.models import InferenceRollup
from recommendations.choices import Confidence
from recommendations.constants import DAYS_PER_MONTH
from recommendations.rules import data, register
from recommendations.rules.base import Context, Finding, Rule


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
    say nothing. A "breach hour" has requests waiting (waiting_max > 0), the KV-cache
    average at least `kv_full` (0.9) and a p95 TTFT or ITL over the service's target
    (the lowest-id replica with stored settings sets them, else the defaults). Fires
    at `min_breach_hours` (3) breach hours.

    Replicas needed = ceil(current x p95 tokens/s of the breach hours / p95 tokens/s
    of the hours that met both targets), at least current + 1 (current + 1 where no
    hour met them) and at most `max_growth` (2) x current; current counts the
    replicas that reported in the window. Cost = extra replicas x the window's cost /
    current replicas, as a month."""

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
        breach = [h for h in hours if self._breached(h, st)]
        if len(breach) < self.min_breach_hours:
            return None
        met = [h for h in hours if self._met(h, st)]
        current = len(deps)
        need_tps = p95([h.tokens_per_s for h in breach])
        met_tps = p95([h.tokens_per_s for h in met]) if met else 0.0
        if met_tps > 0:
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
        action = (
            f"Add {extra} {replicas} to {name} (about ${cost:,} a month): in {len(breach)} of"
            f" {len(hours)} hours requests queued with the KV cache {kv * 100:.0f}% full and"
            f" {' and '.join(o for o in over if o)}, {requests:,} requests."
        )
        arithmetic = (
            f"{sizing}; ${data.cents(window_usd)} over {ctx.days} days / {current} replica(s)"
            f" x {DAYS_PER_MONTH} / {ctx.days} = ${per_replica} per replica-month;"
            f" {extra} x ${per_replica} = ${cost} a month, a cost: stated as -${cost}"
        )
        doubts = [
            *([] if len(hours) >= self.full_share * ctx.days * 24 else [f"{len(hours)} hours"]),
            *([] if met else ["no hour met the targets: one replica more is a floor"]),
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
                "window_usd": str(data.cents(window_usd)),
                "usd_per_replica_month": str(per_replica),
                "monthly_cost_usd": str(cost),
                "confidence_why": "; ".join(doubts) or "a full window, measured at the targets",
                "chart": self._chart(hours, st),
            },
            deployment_id=deps[0].pk,
            node_id=deps[0].node_id,
        )

    def _breached(self, h: Hour, st: DeploymentSettings) -> bool:
        return (
            h.waiting > 0
            and h.kv is not None
            and h.kv >= self.kv_full
            and (
                (h.ttft is not None and h.ttft > st.slo_ttft_ms)
                or (h.itl is not None and h.itl > st.slo_itl_ms)
            )
        )

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
