"""The evidence chart a recommendation's page draws, stored with the finding as JSON."""

from collections.abc import Sequence
from datetime import datetime
from typing import Any


def chart(
    title: str,
    x: Sequence[Any],
    series: Sequence[tuple[str, Sequence[float | None]]],
    y_title: str,
    kind: str = "line",
    x_title: str = "",
    lines: Sequence[tuple[str, float]] = (),
) -> dict[str, Any]:
    """JSON only, so it is stored with the finding. `lines` are horizontal references
    (a target, a threshold)."""
    return {
        "title": title,
        "kind": kind,
        "x": [v.isoformat() if isinstance(v, datetime) else v for v in x],
        "x_title": x_title,
        "y_title": y_title,
        "series": [{"name": name, "y": list(values)} for name, values in series],
        "lines": [{"name": name, "y": value} for name, value in lines],
    }


def demand_chart(
    service: str, hourly: dict[datetime, float], demand: float, what: str, carries: float
) -> dict[str, Any]:
    """A service's hourly tokens/s against its p95 hour and what `what` carries."""
    return chart(
        f"{service}: hourly demand vs {what}",
        list(hourly),
        [("tokens/s", [round(v, 3) for v in hourly.values()])],
        "tokens/s",
        lines=[("p95 hour", round(demand, 3)), (f"capacity of {what}", carries)],
    )
