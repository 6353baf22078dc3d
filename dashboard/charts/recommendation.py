"""A recommendation's evidence chart, drawn from the chart its rule stored with it
(`recommendations.evidence_types.EvidenceChart`, checked when the job wrote it)."""

from typing import Any

from dashboard.charts.layout import GRID, PALETTE, layout, plain, to_div
from recommendations.evidence_types import ChartLine, ChartSeries, EvidenceChart

REFERENCE = "#b3261e"
MAX_POINTS = 2000  # a week of hours is 168: more is not a chart a page should carry


def _short(value: float | None) -> float | None:
    return None if value is None else float(f"{value:.4g}")


def _x(value: str | float | None) -> str | float | None:
    return plain(value) if isinstance(value, str) else _short(value)


def _series(series: list[ChartSeries], points: int, bar: bool) -> list[dict[str, Any]]:
    data: list[dict[str, Any]] = []
    for i, s in enumerate(series):
        values = [_short(v) for v in s.y[:points]]
        if not any(v is not None for v in values):
            continue
        colour = PALETTE[i % len(PALETTE)]
        trace: dict[str, Any] = {
            "type": "bar" if bar else "scatter",
            "y": values,
            "name": plain(s.name or f"series {i + 1}"),
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


def _references(lines: list[ChartLine]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Each line as a dashed horizontal line across the plot, named at its right end."""
    shapes = [
        {
            "type": "line",
            "xref": "paper",
            "yref": "y",
            "x0": 0,
            "x1": 1,
            "y0": _short(line.y),
            "y1": _short(line.y),
            "line": {"color": REFERENCE, "width": 1, "dash": "dash"},
        }
        for line in lines
    ]
    notes = [
        {
            "xref": "paper",
            "yref": "y",
            "x": 1,
            "y": _short(line.y),
            "xanchor": "right",
            "yanchor": "bottom",
            "showarrow": False,
            "text": plain(line.name),
            "font": {"color": REFERENCE, "size": 11},
        }
        for line in lines
    ]
    return shapes, notes


def evidence_chart(chart: EvidenceChart) -> str | None:
    """The chart a rule stored as evidence; None when it has no series to draw."""
    if not chart.x:
        return None
    x = [_x(v) for v in chart.x[:MAX_POINTS]]
    bar = chart.kind == "bar"
    data = _series(chart.series, len(x), bar)
    if not data:
        return None
    for trace in data:
        trace["x"] = x[: len(trace["y"])]
    shapes, notes = _references(chart.lines)
    xaxis: dict[str, Any] = {"title": {"text": plain(chart.x_title)}, "gridcolor": GRID}
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
                "title": {"text": plain(chart.y_title)},
                "gridcolor": GRID,
                "rangemode": "tozero",
            },
            shapes=shapes,
            annotations=notes,
        ),
    }
    return to_div(figure, "recommendation")
