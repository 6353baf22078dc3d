"""The economics figures shaped for the pages: the three-way split of a range's GPU time,
each deployment's unit economics as a row, and a deployment's SLO targets next to its
shares.

Nothing here computes money: the selectors in costs/ and telemetry/ do; this only
sums already-split steps and lays figures out for templates, which cannot call
methods with arguments.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from collectors.models import DeploymentSettings
from costs.economics.figures import Figures
from costs.economics.idle import to_cents
from costs.economics.selectors import IdleStep

ZERO = Decimal(0)


@dataclass(frozen=True)
class Part:
    """One of the three kinds of GPU time, as the page shows it."""

    key: str  # active, held or idle: the CSS class of its colour
    label: str
    usd: Decimal
    hours: float
    share: float | None  # of the range's dollars


@dataclass(frozen=True)
class IdleSplit:
    active_usd: Decimal = ZERO
    idle_held_usd: Decimal = ZERO
    truly_idle_usd: Decimal = ZERO
    active_hours: float = 0.0
    idle_held_hours: float = 0.0
    truly_idle_hours: float = 0.0

    @property
    def usd(self) -> Decimal:
        return self.active_usd + self.idle_held_usd + self.truly_idle_usd

    @property
    def hours(self) -> float:
        return self.active_hours + self.idle_held_hours + self.truly_idle_hours

    def _share(self, usd: Decimal) -> float | None:
        return float(usd / self.usd) if self.usd else None

    @property
    def idle_held_share(self) -> float | None:
        return self._share(self.idle_held_usd)

    @property
    def truly_idle_share(self) -> float | None:
        return self._share(self.truly_idle_usd)

    @property
    def parts(self) -> list[Part]:
        # In cents that add up to the total shown beside them.
        active, held, idle = to_cents([self.active_usd, self.idle_held_usd, self.truly_idle_usd])
        return [
            Part("active", "Active", active, self.active_hours, self._share(self.active_usd)),
            Part(
                "held",
                "Idle-held",
                held,
                self.idle_held_hours,
                self._share(self.idle_held_usd),
            ),
            Part(
                "idle",
                "Truly idle",
                idle,
                self.truly_idle_hours,
                self._share(self.truly_idle_usd),
            ),
        ]


def idle_split(steps: Iterable[IdleStep]) -> IdleSplit:
    """The steps of costs.economics.selectors.idle_series added up."""
    totals: dict[str, Any] = {
        "active_usd": ZERO,
        "idle_held_usd": ZERO,
        "truly_idle_usd": ZERO,
        "active_hours": 0.0,
        "idle_held_hours": 0.0,
        "truly_idle_hours": 0.0,
    }
    for step in steps:
        for name in totals:
            totals[name] += getattr(step, name)
    return IdleSplit(**totals)


@dataclass(frozen=True)
class UnitRow:
    deployment_id: int
    name: str
    node: str
    figures: Figures


def unit_rows(
    figures: Mapping[int, Figures], deployments: Mapping[int, Mapping[str, Any]]
) -> list[UnitRow]:
    """One row per deployment with cost or traffic, the most expensive first."""
    rows = [
        UnitRow(dep, names["name"], names["node__name"], fig)
        for dep, fig in figures.items()
        if (names := deployments.get(dep)) is not None
    ]
    rows.sort(key=lambda r: (-r.figures.cost_usd, r.name, r.node))
    return rows


SLO_METRICS = (
    ("ttft", "Time to first token", "slo_ttft_ms"),
    ("itl", "Inter-token latency", "slo_itl_ms"),
    ("e2e", "End-to-end latency", "slo_e2e_ms"),
)


@dataclass(frozen=True)
class SloRow:
    metric: str
    label: str
    target_ms: float
    share: float | None  # of requests (tokens, for inter-token) within the target


def slo_rows(figures: Figures | None, served: DeploymentSettings) -> list[SloRow]:
    return [
        SloRow(
            metric,
            label,
            getattr(served, target),
            figures.met_share(metric) if figures is not None else None,
        )
        for metric, label, target in SLO_METRICS
    ]
