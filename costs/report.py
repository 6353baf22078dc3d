"""The chargeback report as rows of plain values, and as CSV or JSON text.

The page, the API and `cost_report` all render through here, so a CSV from any
of them has the same columns.
"""

import csv
import io
import json
from datetime import datetime
from decimal import Decimal
from typing import Any

from costs.selectors import CostRow, cost_by

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
)
FORMATS = ("csv", "json")


def _round(value: float | None, places: int) -> float | None:
    return None if value is None else round(value, places)


def row_values(row: CostRow) -> dict[str, Any]:
    return {
        "group": row.key,
        "gpu_hours": round(row.gpu_hours, 4),
        "cost_usd": str(row.cost_usd.quantize(Decimal("0.01"))),
        "idle_usd": str(row.idle_usd.quantize(Decimal("0.01"))),
        "requests": round(row.requests),
        "prompt_tokens": round(row.prompt_tokens),
        "generation_tokens": round(row.generation_tokens),
        "usd_per_request": _round(row.usd_per_request, 8),
        "usd_per_1m_tokens": _round(row.usd_per_1m_tokens, 4),
        "usd_per_1m_prompt_tokens": _round(row.usd_per_1m_prompt_tokens, 4),
        "usd_per_1m_generated_tokens": _round(row.usd_per_1m_generated_tokens, 4),
        "usd_per_hour": _round(row.usd_per_hour, 4),
        "usd_per_day": _round(None if row.usd_per_hour is None else row.usd_per_hour * 24, 2),
        "usd_per_month": _round(row.usd_per_month, 2),
        "energy_wh": round(row.energy_wh, 1),
        "wh_per_1k_tokens": _round(row.wh_per_1k_tokens, 4),
        "gco2e_per_1m_tokens": _round(row.gco2e_per_1m_tokens, 2),
    }


def _plain(value: Any) -> Any:
    # Spreadsheets misread 1.8e-05; a CSV cell gets plain decimals.
    if isinstance(value, float):
        return format(value, ".10f").rstrip("0").rstrip(".")
    # Names come from agents: a cell starting like a formula must stay text.
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@"):
        return "'" + value
    return value


def report_rows(start: datetime, end: datetime, by: str) -> list[dict[str, Any]]:
    """Every group's row, the last one the total; raises ReportError on bad input."""
    return [row_values(row) for row in cost_by(start, end, by)]


def render(rows: list[dict[str, Any]], fmt: str, start: datetime, end: datetime, by: str) -> str:
    if fmt == "json":
        body = {"start": start.isoformat(), "end": end.isoformat(), "by": by, "rows": rows}
        return json.dumps(body, indent=2) + "\n"
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows({k: _plain(v) for k, v in row.items()} for row in rows)
    return out.getvalue()
