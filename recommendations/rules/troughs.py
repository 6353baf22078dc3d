"""Rule 8: a service that is quiet in the same hours every day: scale it down on a schedule."""

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from costs.spend import cost_cells
from inferscope.lib.money import DAYS_PER_MONTH
from recommendations.choices import Confidence
from recommendations.explain.chart import chart
from recommendations.explain.money import cents
from recommendations.explain.words import plural, rate
from recommendations.inputs.capacity import Capacity, capacity
from recommendations.inputs.replicas import HEADROOM, Service, load_services, replicas_needed
from recommendations.rules import register
from recommendations.rules.base import Context, Finding, StagedRule

DAY_S = 86400


def replica_hour_cost(ctx: Context, ids: list[int]) -> tuple[Decimal, int]:
    """$ of the replicas over the window and the replica-hours that cost something."""
    cells = cost_cells(ctx.start, ctx.end, ("deployment", "hour"), deployment_ids=ids)
    priced = [c.usd for c in cells if c.usd > 0]
    return sum(priced, Decimal(0)), len(priced)


def longest_run(below: list[bool], saving: list[int]) -> list[int]:
    """The hours of the longest run of True, wrapping midnight (ties: the larger
    saving, then the earlier start); empty when there is none."""
    runs: list[list[int]] = []
    if all(below):
        return list(range(24))
    first = below.index(False)
    current: list[int] = []
    for i in range(1, 25):
        hour = (first + i) % 24
        if below[hour]:
            current.append(hour)
        elif current:
            runs.append(current)
            current = []
    return max(runs, key=lambda r: (len(r), sum(saving[h] for h in r), -r[0]), default=[])


def clock(hour: int) -> str:
    return f"{hour % 24:02d}:00"


def share(part: float, whole: float) -> str:
    pct = 100.0 * part / whole
    return "under 1%" if pct < 1 else f"{pct:.0f}%"


@dataclass(frozen=True)
class TroughInputs:
    """One service over the window: its busiest day's demand by hour of day."""

    ctx: Context
    service: Service
    cap: Capacity | None  # what one replica carries, where known
    by_hour: dict[int, float]  # hour of day -> the most tokens/s seen in it
    days: int  # days of the window it reported on
    window_usd: Decimal  # its replicas' $
    replica_hours: int  # replica-hours that cost something


@dataclass(frozen=True)
class TroughDecision:
    per_replica: float  # tokens/s one replica carries
    needed: list[int]  # replicas each hour of day needs
    base: int  # replicas the busiest hour needs, at most those running
    trough: list[int]  # the hours of day to scale down in
    peak: float
    per_hour: Decimal  # $ per replica-hour
    monthly_usd: Decimal

    @property
    def saved(self) -> list[int]:
        return [self.base - self.needed[h] for h in self.trough]


@register
class DailyTroughs(StagedRule[TroughInputs, TroughDecision]):
    """Config: `min_days` (6): days of the window the service must have reported on;
    `min_hours` (3): the shortest trough worth a schedule; `headroom` (0.3) as rule 2.

    The schedule scales down from the replicas the busiest hour of day needs (at most
    those running): where even that hour needs fewer, running fewer all day is
    underused_deployments' saving, not this rule's."""

    name = "daily_troughs"
    min_days = 6
    min_hours = 3
    headroom = HEADROOM

    def gather(self, ctx: Context) -> list[TroughInputs]:
        services = load_services(ctx)
        out = []
        for service in services:
            if len(service.replicas) < 2:
                continue  # one replica has nothing to scale down to
            hourly = service.hourly()
            by_hour: dict[int, float] = {}
            for bucket, tokens_s in hourly.items():
                by_hour[bucket.hour] = max(by_hour.get(bucket.hour, 0.0), tokens_s)
            window_usd, replica_hours = replica_hour_cost(ctx, [d.pk for d in service.replicas])
            out.append(
                TroughInputs(
                    ctx=ctx,
                    service=service,
                    cap=capacity(ctx, service, services),
                    by_hour=by_hour,
                    days=len({int((b - ctx.start).total_seconds() // DAY_S) for b in hourly}),
                    window_usd=window_usd,
                    replica_hours=replica_hours,
                )
            )
        return out

    def decide(self, inputs: TroughInputs) -> TroughDecision | None:
        count = len(inputs.service.replicas)
        if count < 2 or inputs.days < self.min_days or not inputs.by_hour:
            return None
        peak = max(inputs.by_hour.values())
        if peak <= 0:
            return None
        per_replica = inputs.cap.per_replica if inputs.cap else peak / count
        # An hour of day never seen is no trough: it keeps every replica.
        needed = [
            replicas_needed(inputs.by_hour[h], per_replica, self.headroom)
            if h in inputs.by_hour
            else count
            for h in range(24)
        ]
        base = min(count, max(needed))
        trough = longest_run([n < base for n in needed], [base - n for n in needed])
        if len(trough) < self.min_hours:
            return None
        if inputs.window_usd <= 0 or not inputs.replica_hours:
            return None  # unpriced: nothing to save that we can state
        per_hour = inputs.window_usd / inputs.replica_hours
        saved = sum(base - needed[h] for h in trough)
        monthly = cents(saved * per_hour * DAYS_PER_MONTH)
        return TroughDecision(per_replica, needed, base, trough, peak, per_hour, monthly)

    def explain(self, inputs: TroughInputs, decision: TroughDecision) -> Finding:
        service, d, cap = inputs.service, decision, inputs.cap
        saved = d.saved
        return Finding(
            key=service.key,
            title=(
                f"Scale {service.name} down from {d.base} replicas"
                f" {clock(d.trough[0])}-{clock(d.trough[-1] + 1)} UTC daily"
            ),
            action=self._action(inputs, d),
            monthly_saving_usd=d.monthly_usd,
            arithmetic=(
                f"{' + '.join(map(str, saved))} = {sum(saved)} replica-hours a day"
                f" x ${_dollars(d.per_hour)} per replica-hour (${cents(inputs.window_usd)}"
                f" / {inputs.replica_hours} replica-hours) x {DAYS_PER_MONTH} days"
                f" = ${d.monthly_usd} per month"
            ),
            confidence=(
                Confidence.HIGH
                if cap is not None and cap.source == "profiling" and inputs.days >= inputs.ctx.days
                else Confidence.MEDIUM
            ),
            evidence=self._evidence(inputs, d),
            deployment_id=service.replicas[0].pk,
        )

    def _action(self, inputs: TroughInputs, d: TroughDecision) -> str:
        service, trough, needed, base = inputs.service, d.trough, d.needed, d.base
        low = [needed[h] for h in trough]
        between = f"between {clock(trough[0])} and {clock(trough[-1] + 1)} UTC every day"
        if len(set(low)) == 1:
            step = f"Scale {service.name} from {base} to {plural(low[0], 'replica')} {between}"
        else:
            steps = [
                f"{needed[h]} from {clock(h)}"
                for i, h in enumerate(trough)
                if i == 0 or needed[h] != needed[trough[i - 1]]
            ]
            step = f"Scale {service.name} down from {base} replicas {between} ({', '.join(steps)})"
        quiet = max(inputs.by_hour[h] for h in trough)
        days, ctx = inputs.days, inputs.ctx
        every = f"all {days} days" if days >= ctx.days else f"each of the {days} days it reported"
        runs = len(service.replicas)
        spare = f" ({base} of its {runs} replicas cover its busiest hour)" if base < runs else ""
        return (
            f"{step}{spare}: demand in those hours was at most {share(quiet, d.peak)} of the"
            f" daily peak on {every}."
        )

    def _evidence(self, inputs: TroughInputs, d: TroughDecision) -> dict[str, object]:
        service, cap, per_replica = inputs.service, inputs.cap, d.per_replica
        return {
            "service": service.name,
            "model": service.model,
            "replicas": [f"{dep.name} on {dep.node.name}" for dep in service.replicas],
            # What a done recommendation measures its saving on: every replica.
            "deployment_ids": [dep.pk for dep in service.replicas],
            "capacity_per_replica_tokens_per_s": round(per_replica, 3),
            "capacity_source": cap.source if cap else "peak",
            "capacity": (
                cap.because
                if cap
                else f"the fleet sized for its peak: {rate(per_replica)} tokens/s per replica"
            ),
            "demand_by_hour_tokens_per_s": self._demand(inputs),
            "needed_by_hour": d.needed,
            "trough_hours": d.trough,
            "headroom": self.headroom,
            "chart": self._chart(inputs, d),
        }

    @staticmethod
    def _demand(inputs: TroughInputs) -> list[float | None]:
        return [round(inputs.by_hour[h], 3) if h in inputs.by_hour else None for h in range(24)]

    def _chart(self, inputs: TroughInputs, d: TroughDecision) -> dict[str, Any]:
        """One axis: the replicas needed drawn as what they carry, in tokens/s."""
        name, per_replica, count = inputs.service.name, d.per_replica, len(inputs.service.replicas)
        return chart(
            f"{name}: busiest day's demand and the replicas it needs, by hour",
            [clock(h) for h in range(24)],
            [
                ("tokens/s, busiest day", self._demand(inputs)),
                (
                    f"capacity of the replicas needed ({rate(per_replica)} tokens/s each)",
                    [round(n * per_replica, 3) for n in d.needed],
                ),
            ],
            "tokens/s",
            kind="bar",
            x_title="hour of day (UTC)",
            lines=[(f"capacity of {plural(count, 'replica')} now", count * per_replica)],
        )


def _dollars(value: Decimal) -> str:
    """Cents where that is exact, else four places: the arithmetic should multiply out."""
    return str(cents(value)) if value == cents(value) else str(value.quantize(Decimal("0.0001")))
