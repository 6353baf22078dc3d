"""The chargeback report as rows of plain values, and as CSV or JSON text.

The page, the API and `cost_report` all render through here, so a CSV from any
of them has the same columns.

$ per 1M prompt and generated tokens split a row's cost by the measured phase
times of its deployments (costs.economics.selectors.deployment_economics: prefill and
decode GPU time, hour by hour), where a row is made of whole deployments: by
deployment, by label, and by node (whose truly idle time is split as its
deployments' was). A GPU's row holds parts of deployments, so it keeps the
token weighting (COST_DECODE_TOKEN_WEIGHT), as `phase_basis` = model says.
This module is the one place costs reads economics: it only composes the two.
"""

import csv
import io
import json
from collections import defaultdict
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from collectors.models import Deployment
from costs.economics.figures import Figures, summed
from costs.economics.idle import to_cents
from costs.economics.phases import MODEL
from costs.economics.selectors import deployment_economics
from costs.selectors import CostRow, cost_by, group_key, parse_grouping

COLUMNS = (
    "group",
    "gpu_hours",
    "cost_usd",
    "idle_usd",
    "requests",
    "prompt_tokens",
    "generation_tokens",
    "usd_per_request",
    "usd_per_1m_tokens",
    "usd_per_1m_prompt_tokens",
    "usd_per_1m_generated_tokens",
    "usd_per_hour",
    "usd_per_day",
    "usd_per_month",
    "energy_wh",
    "wh_per_1k_tokens",
    "gco2e_per_1m_tokens",
    # Added after the first release: at the end, so columns read by position stay put.
    "active_usd",
    "idle_held_usd",
    "truly_idle_usd",
    "active_hours",
    "idle_held_hours",
    "truly_idle_hours",
    "phase_basis",
)
FORMATS = ("csv", "json")

# (prefill's share of the row's $, basis): a row's measured phase split.
Split = tuple[float, str]


def _round(value: float | None, places: int) -> float | None:
    return None if value is None else round(value, places)


def _per_1m(usd: float, tokens: float) -> float | None:
    return usd / tokens * 1e6 if tokens else None


def row_values(row: CostRow, split: Split | None = None) -> dict[str, Any]:
    """A row's cells; with a measured `split`, $ per 1M prompt and generated tokens
    divide its cost by it, else by the token weighting."""
    basis: str | None
    if split is not None and row.costed:
        share, basis = split
        per_prompt = _per_1m(float(row.cost_usd) * share, row.prompt_tokens)
        per_generated = _per_1m(float(row.cost_usd) * (1 - share), row.generation_tokens)
    else:
        per_prompt, per_generated = row.usd_per_1m_prompt_tokens, row.usd_per_1m_generated_tokens
        basis = MODEL
    if per_prompt is None and per_generated is None:
        basis = None
    # Cents that add up: active + idle-held + truly idle = cost, idle = the two idles.
    active, held, truly = to_cents([row.active_usd, row.idle_held_usd, row.truly_idle_usd])
    return {
        "group": row.key,
        "gpu_hours": round(row.gpu_hours, 4),
        "cost_usd": str(active + held + truly),
        "idle_usd": str(held + truly),
        "requests": round(row.requests),
        "prompt_tokens": round(row.prompt_tokens),
        "generation_tokens": round(row.generation_tokens),
        "usd_per_request": _round(row.usd_per_request, 8),
        "usd_per_1m_tokens": _round(row.usd_per_1m_tokens, 4),
        "usd_per_1m_prompt_tokens": _round(per_prompt, 4),
        "usd_per_1m_generated_tokens": _round(per_generated, 4),
        "usd_per_hour": _round(row.usd_per_hour, 4),
        "usd_per_day": _round(None if row.usd_per_hour is None else row.usd_per_hour * 24, 2),
        "usd_per_month": _round(row.usd_per_month, 2),
        "energy_wh": round(row.energy_wh, 1),
        "wh_per_1k_tokens": _round(row.wh_per_1k_tokens, 4),
        "gco2e_per_1m_tokens": _round(row.gco2e_per_1m_tokens, 2),
        "active_usd": str(active),
        "idle_held_usd": str(held),
        "truly_idle_usd": str(truly),
        "active_hours": round(row.active_hours, 4),
        "idle_held_hours": round(row.idle_held_hours, 4),
        "truly_idle_hours": round(row.truly_idle_hours, 4),
        "phase_basis": basis,
    }


def _split(figures: Figures) -> Split | None:
    known = figures.prefill_usd + figures.decode_usd
    if figures.basis is None or known <= 0:
        return None
    return figures.prefill_usd / known, figures.basis


def phase_splits(
    start: datetime, end: datetime, by: str, figures: Mapping[int, Figures] | None = None
) -> tuple[dict[str, Split], Split | None]:
    """({group: its deployments' measured split}, the fleet's) over [start, end).
    No groups for by=gpu: a GPU's row holds only parts of its deployments."""
    kind, label_key = parse_grouping(by)
    if figures is None:
        figures = deployment_economics(start, end)
    groups: dict[str, list[Figures]] = defaultdict(list)
    if kind != "gpu":
        deployments = Deployment.objects.filter(pk__in=list(figures)).values(
            "id", "name", "node__name", "labels", "node__labels"
        )
        for dep in deployments:
            groups[group_key(kind, label_key, None, dep)].append(figures[dep["id"]])
    splits = {key: split for key, figs in groups.items() if (split := _split(summed(figs)))}
    return splits, _split(summed(figures.values()))


def report_rows(
    start: datetime, end: datetime, by: str, figures: Mapping[int, Figures] | None = None
) -> list[dict[str, Any]]:
    """Every group's row, the last one the total; raises ReportError on bad input.
    A caller that has every deployment's deployment_economics(start, end) passes it
    in `figures`, and it is not read again."""
    *groups, total = cost_by(start, end, by)
    splits, fleet = phase_splits(start, end, by, figures)
    # The truly idle row has no tokens: whatever split it looks up, it has no rate.
    return [*(row_values(row, splits.get(row.key)) for row in groups), row_values(total, fleet)]


def _plain(value: Any) -> Any:
    # Spreadsheets misread 1.8e-05; a CSV cell gets plain decimals.
    if isinstance(value, float):
        return format(value, ".10f").rstrip("0").rstrip(".")
    # Names come from agents: a cell starting like a formula must stay text.
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@"):
        return "'" + value
    return value


def render(rows: list[dict[str, Any]], fmt: str, start: datetime, end: datetime, by: str) -> str:
    if fmt == "json":
        body = {"start": start.isoformat(), "end": end.isoformat(), "by": by, "rows": rows}
        return json.dumps(body, indent=2) + "\n"
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows({k: _plain(v) for k, v in row.items()} for row in rows)
    return out.getvalue()
