"""A recommendation's evidence chart, drawn from the JSON its rule stored with it.

The rule wrote `{"title", "kind", "x", "x_title", "y_title", "series", "lines"}`
(`recommendations.explain.chart.chart`); a row edited in the admin may hold anything,
so every part is read defensively and a chart with nothing to draw is None.
"""

import math
from typing import Any

from dashboard.charts.layout import GRID, PALETTE, layout, plain, to_div
from dashboard.charts.points import mapping

REFERENCE = "#b3261e"
MAX_POINTS = 2000  # a week of hours is 168: more is not a chart a page should carry


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return float(f"{number:.4g}") if math.isfinite(number) else None


def _x(value: object) -> str | float | None:
    if isinstance(value, str):
        return plain(value)
    return _number(value)


def _series(spec: dict[str, Any], points: int, bar: bool) -> list[dict[str, Any]]:
    raw = spec.get("series")
    data: list[dict[str, Any]] = []
    for i, s in enumerate(raw if isinstance(raw, list) else []):
        s = mapping(s)
        y = s.get("y")
        if not isinstance(y, list):
            continue
        values = [_number(v) for v in y[:points]]
        if not any(v is not None for v in values):
            continue
        colour = PALETTE[i % len(PALETTE)]
        trace: dict[str, Any] = {
            "type": "bar" if bar else "scatter",
            "y": values,
            "name": plain(str(s.get("name") or f"series {i + 1}")),
        }
        if bar:
            trace["marker"] = {"color": colour}
        else:
            trace.update(
                mode="lines+markers" if points <= 40 else "lines",
                line={"color": colour, "width": 1.5},
                connectgaps=False,
            )
        data.append(trace)
    return data


def _references(spec: dict[str, Any]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Each of `lines` as a dashed horizontal line across the plot, named at its right end."""
    raw = spec.get("lines")
    shapes, notes = [], []
    for line in raw if isinstance(raw, list) else []:
        line = mapping(line)
        y = _number(line.get("y"))
        if y is None:
            continue
        shapes.append(
            {
                "type": "line",
                "xref": "paper",
                "yref": "y",
                "x0": 0,
                "x1": 1,
                "y0": y,
                "y1": y,
                "line": {"color": REFERENCE, "width": 1, "dash": "dash"},
            }
        )
        notes.append(
            {
                "xref": "paper",
                "yref": "y",
                "x": 1,
                "y": y,
                "xanchor": "right",
                "yanchor": "bottom",
                "showarrow": False,
                "text": plain(str(line.get("name") or "")),
                "font": {"color": REFERENCE, "size": 11},
            }
        )
    return shapes, notes


def evidence_chart(chart: object) -> str | None:
    """The chart a rule stored as evidence; None when it has no series to draw."""
    spec = mapping(chart)
    raw_x = spec.get("x")
    if not isinstance(raw_x, list) or not raw_x:
        return None
    x = [_x(v) for v in raw_x[:MAX_POINTS]]
    bar = spec.get("kind") == "bar"
    data = _series(spec, len(x), bar)
    if not data:
        return None
    for trace in data:
        trace["x"] = x[: len(trace["y"])]
    shapes, notes = _references(spec)
    xaxis: dict[str, Any] = {"title": {"text": plain(str(spec.get("x_title") or ""))}}
    xaxis["gridcolor"] = GRID
    if bar:
        # Bars over batch sizes 1, 8, 32, 128 read as four bars, not a number line.
        xaxis["type"] = "category"
    figure = {
        "data": data,
        "layout": layout(
            height=320,
            hovermode="x unified",
            barmode="group",
            showlegend=len(data) > 1,
            xaxis=xaxis,
            yaxis={
                "title": {"text": plain(str(spec.get("y_title") or ""))},
                "gridcolor": GRID,
                "rangemode": "tozero",
            },
            shapes=shapes,
            annotations=notes,
        ),
    }
    return to_div(figure, "recommendation")
