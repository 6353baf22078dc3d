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
from recommendations.explain.chart import chart
from recommendations.explain.money import cents, monthly
from recommendations.explain.words import rate
from recommendations.inputs.live import live_estimates, live_evidence, live_words
from recommendations.inputs.replicas import p95
from recommendations.inputs.window import deployment_costs
from recommendations.rules import register
from recommendations.rules.base import Context, Finding, StagedRule
from telemetry.hourly import TrafficHour, hourly_traffic, latency_ms, tokens_per_s
from telemetry.models.capacity import CapacityBasis, CapacityEstimate


@dataclass(frozen=True)
class Hour:
    """One hour of a service: its replicas' rollups merged."""

    bucket: datetime
    rows: tuple[TrafficHour, ...]
    reporting: int  # replicas that reported that hour
    waiting: float
    kv: float | None
    ttft: float | None
    itl: float | None
    tokens_per_s: float
    requests: int
    rps: float  # finished requests per second, the replicas' sum

    @property
    def rps_per_replica(self) -> float:
        return self.rps / self.reporting if self.reporting else 0.0


def merge_hour(bucket: datetime, rows: Sequence[TrafficHour]) -> Hour:
    # Pooled over replicas: one replica full while another idles is a balancing
    # problem, not a capacity one.
    kv_n = sum(r.kv_cache_n for r in rows)
    return Hour(
        bucket=bucket,
        rows=tuple(rows),
        reporting=len(rows),
        waiting=max((r.waiting_max or 0) for r in rows),
        kv=sum(r.kv_cache_sum for r in rows) / kv_n if kv_n else None,
        ttft=latency_ms(rows, "ttft"),
        itl=latency_ms(rows, "itl"),
        tokens_per_s=sum(tokens_per_s(r) for r in rows),
        requests=sum(r.requests for r in rows),
        rps=sum(r.requests / r.present_s for r in rows if r.present_s),
    )


@dataclass(frozen=True)
class ServiceInputs:
    """One service (the deployments of one name, lowest id first) over the window."""

    ctx: Context
    name: str
    deployment_ids: tuple[int, ...]
    node_names: tuple[str, ...]
    node_id: int  # the first replica's
    hours: tuple[Hour, ...]  # oldest first
    settings: DeploymentSettings  # the lowest-id replica's stored ones, else defaults
    targets_set: bool  # a replica has stored settings
    knee: CapacityEstimate | None  # the smallest measured live estimate
    window_usd: Decimal

    @property
    def replicas(self) -> int:
        """The replicas that reported in the window."""
        return len(self.deployment_ids)


@dataclass(frozen=True)
class ScaleUp:
    breach: tuple[Hour, ...]
    met_hours: int
    need_tps: float  # p95 tokens/s of the breach hours
    met_tps: float  # p95 tokens/s of the hours that met the targets, 0 without one
    need_rps: float  # p95 requests/s of the breach hours
    source: str  # what sized it: "live estimate", "met hours" or "floor"
    current: int
    ceiled: int  # replicas needed before the cap on growth per step
    needed: int
    per_replica: Decimal  # $ one replica costs a month
    cost: Decimal  # $ a month the extra replicas cost

    @property
    def extra(self) -> int:
        return self.needed - self.current


@register
class ScaleUpSlo(StagedRule[ServiceInputs, ScaleUp]):
    """Config: deployments with the same name are replicas of one service, judged
    together with their hourly rollups merged; `min_hours` (24): fewer hours of data
    say nothing. A "breach hour" has requests waiting (waiting_max > 0), a p95 TTFT or
    ITL over the service's target (the lowest-id replica with stored settings sets
    them, else the defaults), and either the KV-cache average at least `kv_full` (0.9)
    or the hour's requests/s per replica at least what one replica carries within its
    targets by the live capacity estimate (inputs/live.py: measured, the smallest of
    the replicas'): a server saturated in compute queues with room left in its cache.
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

    def gather(self, ctx: Context) -> list[ServiceInputs]:
        traffic = hourly_traffic(ctx.start, ctx.end)
        if not traffic:
            return []
        services: dict[str, list[Deployment]] = defaultdict(list)
        for dep in Deployment.objects.filter(pk__in=traffic).select_related("node", "settings"):
            services[dep.name].append(dep)
        costs = deployment_costs(ctx, list(traffic))
        return [
            self._inputs(ctx, name, sorted(deps, key=lambda d: d.pk), traffic, costs)
            for name, deps in sorted(services.items())
        ]

    def _inputs(
        self,
        ctx: Context,
        name: str,
        deps: list[Deployment],
        traffic: dict[int, list[TrafficHour]],
        costs: dict[int, Decimal],
    ) -> ServiceInputs:
        by_hour: dict[datetime, list[TrafficHour]] = defaultdict(list)
        for dep in deps:
            for row in traffic[dep.pk]:
                by_hour[row.bucket].append(row)
        stored = [d.settings for d in deps if hasattr(d, "settings")]
        return ServiceInputs(
            ctx=ctx,
            name=name,
            deployment_ids=tuple(d.pk for d in deps),
            node_names=tuple(d.node.name for d in deps),
            node_id=deps[0].node_id,
            hours=tuple(merge_hour(bucket, by_hour[bucket]) for bucket in sorted(by_hour)),
            settings=stored[0] if stored else settings_for(deps[0]),
            targets_set=bool(stored),
            knee=next(iter(live_estimates(ctx, deps)), None),
            window_usd=sum((costs.get(d.pk, Decimal(0)) for d in deps), Decimal(0)),
        )

    def decide(self, inputs: ServiceInputs) -> ScaleUp | None:
        hours, st, knee = inputs.hours, inputs.settings, inputs.knee
        if len(hours) < self.min_hours:
            return None
        breach = tuple(h for h in hours if self._breached(h, st, knee))
        if len(breach) < self.min_breach_hours:
            return None
        met = [h for h in hours if self._met(h, st)]
        current = inputs.replicas
        need_tps = p95([h.tokens_per_s for h in breach])
        met_tps = p95([h.tokens_per_s for h in met]) if met else 0.0
        need_rps = p95([h.rps for h in breach])
        source, ceiled = self._size(current, need_rps, need_tps, met_tps, knee)
        # The floor adds one replica whatever the cap: it is the least a step can do.
        needed = ceiled if source == "floor" else min(ceiled, self.max_growth * current)
        per_replica = monthly(inputs.window_usd / current, inputs.ctx)
        return ScaleUp(
            breach=breach,
            met_hours=len(met),
            need_tps=need_tps,
            met_tps=met_tps,
            need_rps=need_rps,
            source=source,
            current=current,
            ceiled=ceiled,
            needed=needed,
            per_replica=per_replica,
            cost=cents(per_replica * (needed - current)),
        )

    @staticmethod
    def _size(
        current: int,
        need_rps: float,
        need_tps: float,
        met_tps: float,
        knee: CapacityEstimate | None,
    ) -> tuple[str, int]:
        """(what sized it, the replicas it says), before the cap on growth. Rounded
        before ceil so a ratio of exactly 2 does not ceil to 3 on float noise."""
        if knee is not None and knee.capacity_rps:
            return "live estimate", max(
                current + 1, math.ceil(round(need_rps / knee.capacity_rps, 6))
            )
        if met_tps > 0:
            # The hours that met the targets may just have been quiet ones: their
            # load is no capacity measure, hence the cap on growth per step.
            return "met hours", max(current + 1, math.ceil(round(current * need_tps / met_tps, 6)))
        return "floor", current + 1

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

    def explain(self, inputs: ServiceInputs, decision: ScaleUp) -> Finding:
        d, ctx = decision, inputs.ctx
        rows = [r for h in d.breach for r in h.rows]
        kv = sum(r.kv_cache_sum for r in rows) / max(sum(r.kv_cache_n for r in rows), 1)
        ttft, itl = latency_ms(rows, "ttft"), latency_ms(rows, "itl")
        requests = sum(h.requests for h in d.breach)
        doubts = self._doubts(inputs, d)
        return Finding(
            key=f"service:{inputs.name}",
            title=f"Add capacity to {inputs.name}",
            action=self._action(inputs, d, kv, ttft, itl, requests),
            monthly_saving_usd=-d.cost,
            arithmetic=(
                f"{self._sizing(inputs, d)}; ${cents(inputs.window_usd)} over {ctx.days} days"
                f" / {d.current} replica(s) x {DAYS_PER_MONTH} / {ctx.days}"
                f" = ${d.per_replica} per replica-month;"
                f" {d.extra} x ${d.per_replica} = ${d.cost} a month, a cost: stated as -${d.cost}"
            ),
            confidence=Confidence.MEDIUM if doubts else Confidence.HIGH,
            evidence=self._evidence(inputs, d, (kv, ttft, itl), requests, doubts),
            deployment_id=inputs.deployment_ids[0],
            node_id=inputs.node_id,
        )

    def _evidence(
        self,
        inputs: ServiceInputs,
        d: ScaleUp,
        breach: tuple[float, float | None, float | None],
        requests: int,
        doubts: list[str],
    ) -> dict[str, Any]:
        """`breach`: the KV-cache average and p95 TTFT and ITL pooled over breach hours."""
        st, (kv, ttft, itl) = inputs.settings, breach
        return {
            "replicas": d.current,
            "replicas_needed": d.needed,
            "deployment_ids": list(inputs.deployment_ids),
            "nodes": list(inputs.node_names),
            "hours": len(inputs.hours),
            "breach_hours": len(d.breach),
            "breach_requests": requests,
            "met_hours": d.met_hours,
            "kv_pct_breach": round(kv * 100, 1),
            "p95_ttft_breach_ms": None if ttft is None else round(ttft, 1),
            "p95_itl_breach_ms": None if itl is None else round(itl, 1),
            "slo_ttft_ms": st.slo_ttft_ms,
            "slo_itl_ms": st.slo_itl_ms,
            "p95_tokens_per_s_breach": round(d.need_tps, 1),
            "p95_tokens_per_s_met": round(d.met_tps, 1),
            "p95_requests_per_s_breach": round(d.need_rps, 3),
            "capacity_source": d.source,
            "capacity_estimate": None if inputs.knee is None else live_evidence(inputs.knee),
            "capacity_estimate_words": None if inputs.knee is None else live_words(inputs.knee),
            "window_usd": str(cents(inputs.window_usd)),
            "usd_per_replica_month": str(d.per_replica),
            "monthly_cost_usd": str(d.cost),
            "confidence_why": "; ".join(doubts) or "a full window, measured at the targets",
            "chart": self._chart(inputs.hours, st),
        }

    def _sizing(self, inputs: ServiceInputs, d: ScaleUp) -> str:
        if d.source == "floor":
            return f"no hour met the targets: replicas needed = {d.current} + 1 = {d.needed}"
        if d.source == "live estimate":
            knee_rps = inputs.knee.capacity_rps if inputs.knee else None
            sizing = (
                f"replicas needed = ceil({rate(d.need_rps)} requests/s, the p95 of the breach"
                f" hours, / {rate(knee_rps or 0.0)} requests/s that one replica carries within"
                f" its targets by its live capacity estimate) = {d.ceiled}"
            )
        else:
            sizing = (
                f"replicas needed = ceil({d.current} x {d.need_tps:,.0f} / {d.met_tps:,.0f}"
                f" tokens/s, the p95 of the breach hours over the p95 of the {d.met_hours}"
                f" hours that met the targets) = {d.ceiled}"
            )
        if d.ceiled > d.needed:
            sizing += f", at most {self.max_growth} x {d.current} per step = {d.needed}"
        return sizing

    def _action(
        self,
        inputs: ServiceInputs,
        d: ScaleUp,
        kv: float,
        ttft: float | None,
        itl: float | None,
        requests: int,
    ) -> str:
        st, knee = inputs.settings, inputs.knee
        over = [
            self._over(label, merged, [getattr(h, attr) for h in d.breach], target)
            for label, attr, merged, target in (
                ("TTFT", "ttft", ttft, st.slo_ttft_ms),
                ("ITL", "itl", itl, st.slo_itl_ms),
            )
        ]
        if knee is None or all(self._full(h) for h in d.breach):
            why = f"with the KV cache {kv * 100:.0f}% full"
        else:
            why = (
                f"with the load past the {rate(knee.capacity_rps or 0.0)} requests/s one replica"
                f" carries within its targets (the KV cache {kv * 100:.0f}% full)"
            )
        replicas = "replica" if d.extra == 1 else "replicas"
        return (
            f"Add {d.extra} {replicas} to {inputs.name} (about ${d.cost:,} a month): in"
            f" {len(d.breach)} of {len(inputs.hours)} hours requests queued {why} and"
            f" {' and '.join(o for o in over if o)}, {requests:,} requests."
        )

    def _doubts(self, inputs: ServiceInputs, d: ScaleUp) -> list[str]:
        """Why the finding is not HIGH confidence; none where it is."""
        knee, hours = inputs.knee, len(inputs.hours)
        doubts = [] if hours >= self.full_share * inputs.ctx.days * 24 else [f"{hours} hours"]
        if not d.met_hours and knee is None:
            doubts.append("no hour met the targets: one replica more is a floor")
        if knee is not None and knee.basis == CapacityBasis.EXTRAPOLATED:
            doubts.append("the live capacity is extrapolated beyond the load seen")
        if not inputs.targets_set:
            doubts.append("the targets are the defaults, not set for this service")
        if inputs.window_usd <= 0:
            doubts.append("no cost recorded")
        return doubts

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
    def _chart(hours: Sequence[Hour], st: DeploymentSettings) -> dict[str, Any]:
        return chart(
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
