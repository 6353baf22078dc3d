"""The contract every rule keeps: evaluate() reads the measured data and returns findings;
most rules do it in three steps (StagedRule): gather, decide, explain."""

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Generic, TypeVar

from collectors.models import Deployment, DeploymentSettings, settings_for
from inferscope.lib.money import DAYS_PER_MONTH
from profiling.choices import JobStatus
from profiling.models import ProfilingResult
from recommendations.choices import Confidence
from recommendations.context import Context
from recommendations.explain.chart import chart
from recommendations.explain.money import cents
from recommendations.inputs.sweeps import (
    Axis,
    Comparison,
    ServedLoad,
    Setting,
    compare,
    cost_hours,
    known,
    served_load,
    setting_of,
)
from recommendations.inputs.window import Sweep, deployment_costs, latest_profilings

InputsT = TypeVar("InputsT")
DecisionT = TypeVar("DecisionT")


@dataclass(frozen=True)
class Finding:
    """One recommendation as a rule states it; `key` names its entity within the rule."""

    key: str
    title: str
    action: str
    monthly_saving_usd: Decimal
    arithmetic: str
    confidence: Confidence
    evidence: dict[str, Any] = field(default_factory=dict)
    gpu_id: int | None = None
    deployment_id: int | None = None
    node_id: int | None = None


class Rule(ABC):
    """A rule is silent on a healthy fleet: it returns a finding only where acting on
    it saves money (or, for capacity, where not acting breaks an SLO)."""

    name: str = ""

    @abstractmethod
    def evaluate(self, ctx: Context) -> list[Finding]:
        """Findings for the window ending at ctx.end; never raises for missing data."""


class StagedRule(Rule, Generic[InputsT, DecisionT]):
    """A rule whose judgement is three steps with typed seams, so the judgement itself
    is tested without a database:

    - gather(ctx): every read, one frozen inputs dataclass per entity judged (a GPU,
      a deployment, a service); nothing is decided here beyond which entities exist.
    - decide(inputs): pure, no queries and no clock: None where the rule is silent,
      else a frozen decision dataclass holding the numbers (thresholds, sizes, $).
    - explain(inputs, decision): the words, arithmetic, confidence, evidence and
      chart of the Finding that is stored; it adds no judgement of its own.
    """

    def evaluate(self, ctx: Context) -> list[Finding]:
        findings = []
        for inputs in self.gather(ctx):
            decision = self.decide(inputs)
            if decision is not None:
                findings.append(self.explain(inputs, decision))
        return findings

    @abstractmethod
    def gather(self, ctx: Context) -> Iterable[InputsT]:
        """The inputs of each entity the rule judges, in the order findings are listed."""

    @abstractmethod
    def decide(self, inputs: InputsT) -> DecisionT | None:
        """The rule's verdict on one entity from its inputs alone."""

    @abstractmethod
    def explain(self, inputs: InputsT, decision: DecisionT) -> Finding:
        """The finding that states `decision`."""


@dataclass(frozen=True)
class SweepInputs:
    """A profiled deployment whose served setting on the rule's axis is known."""

    ctx: Context
    deployment: Deployment
    settings: DeploymentSettings
    window_usd: Decimal
    cost_hours: int  # hours of the window in which it cost something
    load: ServedLoad | None
    sweep: Sweep | None


@dataclass(frozen=True)
class SweepDecision:
    comparison: Comparison
    monthly_usd: Decimal  # the window's cost x (1 - 1/N), as a month
    full: bool  # costed in enough of the window for a full one


class SweepRule(StagedRule[SweepInputs, SweepDecision]):
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

    def gather(self, ctx: Context) -> list[SweepInputs]:
        profiled = (
            Deployment.objects.filter(profiling_jobs__status=JobStatus.DONE)
            .distinct()
            .select_related("node", "settings")
        )
        deps = [d for d in profiled if known(setting_of(settings_for(d), self.axis.fields))]
        ids = [d.pk for d in deps]
        costs = deployment_costs(ctx, ids) if ids else {}
        sweeps = latest_profilings(ids) if ids else {}
        return [
            SweepInputs(
                ctx=ctx,
                deployment=dep,
                settings=settings_for(dep),
                window_usd=costs.get(dep.pk) or Decimal(0),
                cost_hours=cost_hours(ctx, dep.pk),
                load=served_load(ctx, dep.pk),
                sweep=sweeps.get(dep.pk),
            )
            for dep in deps
        ]

    def decide(self, inputs: SweepInputs) -> SweepDecision | None:
        if inputs.window_usd <= 0 or inputs.cost_hours < self.min_cost_hours:
            return None
        c = compare(inputs.sweep, inputs.settings, self.axis, inputs.load, self.min_speedup)
        if c is None:
            return None
        usd = saving(inputs.window_usd, inputs.ctx, c.speedup)
        if usd <= 0:
            return None
        full = inputs.cost_hours >= self.full_share * inputs.ctx.days * 24
        return SweepDecision(c, usd, full)

    def explain(self, inputs: SweepInputs, decision: SweepDecision) -> Finding:
        dep, settings, c = inputs.deployment, inputs.settings, decision.comparison
        confidence, why = self.confidence(c, decision.full)
        return Finding(
            key=f"deployment:{dep.pk}",
            title=self.title(dep, c),
            action=self.action(dep, c, settings),
            monthly_saving_usd=decision.monthly_usd,
            arithmetic=saving_text(inputs.window_usd, inputs.ctx, c.speedup, decision.monthly_usd),
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
                "served_load": None if inputs.load is None else inputs.load.as_dict(),
                "window_usd": str(inputs.window_usd),
                "cost_hours": inputs.cost_hours,
                "confidence_reason": why,
                "chart": sweep_chart(c, self.axis, self.label),
            },
            deployment_id=dep.pk,
            node_id=dep.node_id,
        )


def saving(window_usd: Decimal, ctx: Context, speedup: Decimal) -> Decimal:
    """The same tokens on 1/N of the GPU time: cost x (1 - 1/N), per month."""
    return cents(window_usd * DAYS_PER_MONTH / ctx.days * (1 - 1 / speedup))


def saving_text(window_usd: Decimal, ctx: Context, speedup: Decimal, usd: Decimal) -> str:
    return (
        f"${cents(window_usd)} over {ctx.days} days x {DAYS_PER_MONTH} / {ctx.days}"
        f" x (1 - 1/{speedup_text(speedup)}) = ${usd} per month"
    )


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
    other = setting_of(c.pair.current, axis.others)
    lines: dict[Setting, dict[int, float | None]] = {c.current: {}, c.proposed: {}}
    for r in c.results:
        setting = setting_of(r, axis.fields)
        if (
            (r.prompt_len, r.gen_len) == shape
            and setting_of(r, axis.others) == other
            and setting in lines
        ):
            lines[setting][r.batch_size] = r.tokens_per_s
    batches = sorted({b for line in lines.values() for b in line})
    return chart(
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


__all__ = ["Context", "Finding", "Rule", "StagedRule", "SweepRule"]
