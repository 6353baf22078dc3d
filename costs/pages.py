"""One deployment's dollars as its page shows them, each window read once.

The page shows the same hours four ways (cost per step and in total, $ per 1M tokens
per step and in total, the prefill/decode split and goodput per step and in total).
Each total here is added up from the steps already read, so the page reads its
spend, its token volumes and its hourly economics once each, and the totals always
agree with the charts beside them.
"""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from costs.economics.figures import Figures, summed
from costs.economics.selectors import deployment_economics_series
from costs.spend import Scope, cost_window, per_1m, spend_steps, step_tokens, totals_of
from inferscope.lib.timerange import HOUR, TimeRange
from telemetry.usage import deployment_volume_series

ZERO = Decimal(0)


@dataclass(frozen=True)
class DeploymentCost:
    """A deployment's cost over a range's whole hours (`since` to the range's end)."""

    since: datetime
    step: int  # seconds per point: the range's step, never under an hour
    times: list[datetime] = field(default_factory=list)  # steps with a cost
    usd_steps: list[float] = field(default_factory=list)
    per_1m_steps: list[float | None] = field(default_factory=list)
    usd: Decimal = ZERO
    usd_per_1m: float | None = None  # all its $ over all its tokens of the same hours
    economics: Figures | None = None  # the split, cache savings and goodput in total
    economics_steps: dict[datetime, Figures] = field(default_factory=dict)


def deployment_cost(tr: TimeRange, deployment_id: int) -> DeploymentCost:
    """Cost per step and in total, $ per 1M tokens, and the economics, of one deployment."""
    window = cost_window(tr)
    step = max(tr.step, HOUR)
    rows = spend_steps(tr.start, tr.end, step, Scope([deployment_id], []))
    usd = {ts: float(value) for ts, _, value, _ in rows}
    times = sorted(usd)
    volumes = deployment_volume_series(window, step, [deployment_id]).get(deployment_id)
    tokens = step_tokens(volumes) if volumes is not None else {}
    total = totals_of(rows).usd
    economics, economics_steps = _economics(window.start, tr.end, step, deployment_id)
    return DeploymentCost(
        since=window.start,
        step=step,
        times=times,
        usd_steps=[usd[ts] for ts in times],
        per_1m_steps=[per_1m(usd[ts], tokens.get(ts, 0.0)) for ts in times],
        usd=total,
        usd_per_1m=per_1m(total, sum(tokens.values())),
        economics=economics,
        economics_steps=economics_steps,
    )


def _economics(
    start: datetime, end: datetime, step: int, deployment_id: int
) -> tuple[Figures | None, dict[datetime, Figures]]:
    """The total and each step's figures, from one read of the deployment's hours.

    An hour's figures close to themselves (an hour is split or it is not), so adding
    hours up and closing once gives exactly what economics_totals and
    economics_by_step give for the same period.
    """
    hours = deployment_economics_series(start, end, HOUR, [deployment_id]).get(deployment_id, {})
    if not hours:
        return None, {}
    ordered = sorted(hours.items())
    by_step: dict[datetime, list[Figures]] = defaultdict(list)
    for hour, figures in ordered:
        by_step[_floor(hour, step)].append(figures)
    steps = {at: summed(figures) for at, figures in by_step.items()}
    return summed(figures for _, figures in ordered), steps


def _floor(ts: datetime, step: int) -> datetime:
    epoch = int(ts.timestamp())
    return datetime.fromtimestamp(epoch - epoch % step, ts.tzinfo)
