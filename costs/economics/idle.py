"""Every GPU-hour as active, idle-held or truly idle, in hours and dollars.

- active: a deployment held its share of the GPU while it had requests
  running or finishing;
- idle-held: a deployment held its share (vLLM pre-allocates ~90% of memory,
  so memory looks busy) but served nothing;
- truly idle: no serving process on the GPU (or the share of its memory that
  nobody held).

Attribution writes both parts on every cost record (costs/attribution.py), so
the three add up to the bill to the micro-dollar; grouped reports come from
costs.selectors.cost_by, whose rows carry the split.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from collectors.models import Deployment
from costs.models import CostRecord, HourlySpend
from costs.spend import Scope
from inferscope.lib.money import micro
from inferscope.lib.sql import bucket_start, fetch_all, param, placeholders, step_time
from inferscope.lib.timerange import HOUR


@dataclass(frozen=True)
class IdleStep:
    at: datetime
    active_usd: Decimal
    idle_held_usd: Decimal
    truly_idle_usd: Decimal
    active_hours: float
    idle_held_hours: float
    truly_idle_hours: float

    @property
    def usd(self) -> Decimal:
        return self.active_usd + self.idle_held_usd + self.truly_idle_usd


def idle_series(
    start: datetime, end: datetime, step: int, scope: Scope | None = None
) -> list[IdleStep]:
    """The three kinds of GPU time per step of whole hours in [start, end)."""
    scope = scope or Scope()
    step = max(step, HOUR)
    where, args = scope.sql()
    if scope.gpu_ids:
        # A label's truly idle time is its GPUs' unheld time: only per-GPU records have it.
        table, held_hours = CostRecord._meta.db_table, "idle_held_hours"
    else:
        table, held_hours = HourlySpend._meta.db_table, "idle_held_gpu_hours"
    dep = "deployment_id IS NOT NULL"
    sql = (
        f"SELECT {bucket_start('hour', step)} AS t,"
        f" SUM(CASE WHEN {dep} THEN usd - idle_held_usd ELSE 0 END),"
        f" SUM(CASE WHEN {dep} THEN idle_held_usd ELSE 0 END),"
        f" SUM(CASE WHEN {dep} THEN 0 ELSE usd END),"
        f" SUM(CASE WHEN {dep} THEN gpu_hours - {held_hours} ELSE 0 END),"
        f" SUM(CASE WHEN {dep} THEN {held_hours} ELSE 0 END),"
        f" SUM(CASE WHEN {dep} THEN 0 ELSE gpu_hours END)"
        f" FROM {table} WHERE hour >= %s AND hour < %s{where} GROUP BY t ORDER BY t"
    )
    rows = fetch_all(sql, [param(start), param(end), *args])
    return [
        IdleStep(
            step_time(t),
            micro(active),
            micro(held),
            micro(truly),
            max(0.0, active_h or 0.0),
            held_h or 0.0,
            truly_h or 0.0,
        )
        for t, active, held, truly, active_h, held_h, truly_h in rows
    ]


@dataclass(frozen=True)
class HeldDeployment:
    deployment: Deployment
    usd: Decimal
    idle_held_usd: Decimal
    idle_held_hours: float

    @property
    def held_share(self) -> float:
        return float(self.idle_held_usd / self.usd) if self.usd else 0.0


def idle_held_deployments(
    start: datetime, end: datetime, deployment_ids: Sequence[int] | None = None, limit: int = 10
) -> list[HeldDeployment]:
    """Deployments that held GPUs while serving nothing, most idle-held $ first."""
    sql = (
        "SELECT deployment_id, SUM(usd), SUM(idle_held_usd), SUM(idle_held_gpu_hours)"
        f" FROM {HourlySpend._meta.db_table}"
        " WHERE hour >= %s AND hour < %s AND deployment_id IS NOT NULL"
    )
    args: list[Any] = [param(start), param(end)]
    if deployment_ids is not None:
        ids = list(deployment_ids) or [-1]
        sql += f" AND deployment_id IN ({placeholders(len(ids))})"
        args += ids
    rows = fetch_all(sql + " GROUP BY deployment_id HAVING SUM(idle_held_usd) > 0", args)
    rows.sort(key=lambda r: (-micro(r[2]), r[0]))
    rows = rows[:limit]
    deployments = Deployment.objects.select_related("node").in_bulk([r[0] for r in rows])
    return [
        HeldDeployment(deployments[dep], micro(usd), micro(held), hours or 0.0)
        for dep, usd, held, hours in rows
        if dep in deployments
    ]


CENT = Decimal("0.01")


def to_cents(parts: Sequence[Decimal]) -> list[Decimal]:
    """Parts rounded to cents so that they add up to their total rounded to cents.

    Rounding each part alone can leave active + idle-held + truly idle a cent off
    the bill shown beside them; the largest remainders take the missing cents.
    """
    total = sum(parts, Decimal(0)).quantize(CENT)
    floors = [p.quantize(CENT, rounding="ROUND_FLOOR") for p in parts]
    short = int((total - sum(floors, Decimal(0))) / CENT)
    order = sorted(range(len(parts)), key=lambda i: parts[i] - floors[i], reverse=True)
    for i in order[: max(short, 0)]:
        floors[i] += CENT
    return floors
