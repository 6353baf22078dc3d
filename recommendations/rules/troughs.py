"""Rule 8: a service that is quiet in the same hours every day: scale it down on a schedule."""

from decimal import Decimal

from django.db.models import Sum

from costs.models import CostRecord
from inferscope.lib.money import DAYS_PER_MONTH
from recommendations.choices import Confidence
from recommendations.explain.chart import chart
from recommendations.explain.money import cents
from recommendations.explain.words import plural, rate
from recommendations.inputs.capacity import Capacity, capacity
from recommendations.inputs.replicas import HEADROOM, Service, load_services, replicas_needed
from recommendations.rules import register
from recommendations.rules.base import Context, Finding, Rule

DAY_S = 86400


def replica_hour_cost(ctx: Context, ids: list[int]) -> tuple[Decimal, int]:
    """$ of the replicas over the window and the replica-hours that cost something."""
    rows = (
        CostRecord.objects.filter(hour__gte=ctx.start, hour__lt=ctx.end, deployment_id__in=ids)
        .values("deployment", "hour")
        .annotate(usd=Sum("usd"))
    )
    priced = [row["usd"] for row in rows if row["usd"] and row["usd"] > 0]
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


@register
class DailyTroughs(Rule):
    """Config: `min_days` (6): days of the window the service must have reported on;
    `min_hours` (3): the shortest trough worth a schedule; `headroom` (0.3) as rule 2.

    The schedule scales down from the replicas the busiest hour of day needs (at most
    those running): where even that hour needs fewer, running fewer all day is
    underused_deployments' saving, not this rule's."""

    name = "daily_troughs"
    min_days = 6
    min_hours = 3
    headroom = HEADROOM

    def evaluate(self, ctx: Context) -> list[Finding]:
        services = load_services(ctx)
        findings = []
        for service in services:
            finding = self._service(ctx, service, services)
            if finding is not None:
                findings.append(finding)
        return findings

    def _service(self, ctx: Context, service: Service, services: list[Service]) -> Finding | None:
        count = len(service.replicas)
        if count < 2:
            return None
        hourly = service.hourly()
        days = {int((bucket - ctx.start).total_seconds() // DAY_S) for bucket in hourly}
        if len(days) < self.min_days:
            return None
        by_hour: dict[int, float] = {}
        for bucket, tokens_s in hourly.items():
            by_hour[bucket.hour] = max(by_hour.get(bucket.hour, 0.0), tokens_s)
        peak = max(by_hour.values())
        if peak <= 0:
            return None
        cap = capacity(ctx, service, services)
        per_replica = cap.per_replica if cap else peak / count
        # An hour of day never seen is no trough: it keeps every replica.
        needed = [
            replicas_needed(by_hour[h], per_replica, self.headroom) if h in by_hour else count
            for h in range(24)
        ]
        base = min(count, max(needed))
        trough = longest_run([n < base for n in needed], [base - n for n in needed])
        if len(trough) < self.min_hours:
            return None
        window_usd, replica_hours = replica_hour_cost(ctx, [d.pk for d in service.replicas])
        if window_usd <= 0:
            return None  # unpriced: nothing to save that we can state
        per_hour = window_usd / replica_hours
        saved = [base - needed[h] for h in trough]
        monthly = cents(sum(saved) * per_hour * DAYS_PER_MONTH)
        return Finding(
            key=service.key,
            title=(
                f"Scale {service.name} down from {base} replicas"
                f" {clock(trough[0])}-{clock(trough[-1] + 1)} UTC daily"
            ),
            action=self._action(service, base, needed, trough, by_hour, peak, len(days), ctx),
            monthly_saving_usd=monthly,
            arithmetic=(
                f"{' + '.join(map(str, saved))} = {sum(saved)} replica-hours a day"
                f" x ${_dollars(per_hour)} per replica-hour (${cents(window_usd)}"
                f" / {replica_hours} replica-hours) x {DAYS_PER_MONTH} days"
                f" = ${monthly} per month"
            ),
            confidence=(
                Confidence.HIGH
                if cap is not None and cap.source == "profiling" and len(days) >= ctx.days
                else Confidence.MEDIUM
            ),
            evidence=self._evidence(service, cap, per_replica, by_hour, needed, trough, count),
            deployment_id=service.replicas[0].pk,
        )

    def _action(
        self,
        service: Service,
        base: int,
        needed: list[int],
        trough: list[int],
        by_hour: dict[int, float],
        peak: float,
        days: int,
        ctx: Context,
    ) -> str:
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
        quiet = max(by_hour[h] for h in trough)
        every = f"all {days} days" if days >= ctx.days else f"each of the {days} days it reported"
        runs = len(service.replicas)
        spare = f" ({base} of its {runs} replicas cover its busiest hour)" if base < runs else ""
        return (
            f"{step}{spare}: demand in those hours was at most {share(quiet, peak)} of the"
            f" daily peak on {every}."
        )

    def _evidence(
        self,
        service: Service,
        cap: Capacity | None,
        per_replica: float,
        by_hour: dict[int, float],
        needed: list[int],
        trough: list[int],
        count: int,
    ) -> dict[str, object]:
        demand = [round(by_hour[h], 3) if h in by_hour else None for h in range(24)]
        return {
            "service": service.name,
            "model": service.model,
            "replicas": [f"{d.name} on {d.node.name}" for d in service.replicas],
            # What a done recommendation measures its saving on: every replica.
            "deployment_ids": [d.pk for d in service.replicas],
            "capacity_per_replica_tokens_per_s": round(per_replica, 3),
            "capacity_source": cap.source if cap else "peak",
            "capacity": (
                cap.because
                if cap
                else f"the fleet sized for its peak: {rate(per_replica)} tokens/s per replica"
            ),
            "demand_by_hour_tokens_per_s": demand,
            "needed_by_hour": needed,
            "trough_hours": trough,
            "headroom": self.headroom,
            # One axis: the replicas needed drawn as what they carry, in tokens/s.
            "chart": chart(
                f"{service.name}: busiest day's demand and the replicas it needs, by hour",
                [clock(h) for h in range(24)],
                [
                    ("tokens/s, busiest day", demand),
                    (
                        f"capacity of the replicas needed ({rate(per_replica)} tokens/s each)",
                        [round(n * per_replica, 3) for n in needed],
                    ),
                ],
                "tokens/s",
                kind="bar",
                x_title="hour of day (UTC)",
                lines=[(f"capacity of {plural(count, 'replica')} now", count * per_replica)],
            ),
        }


def _dollars(value: Decimal) -> str:
    """Cents where that is exact, else four places: the arithmetic should multiply out."""
    return str(cents(value)) if value == cents(value) else str(value.quantize(Decimal("0.0001")))
