"""The series around an anomaly against its expected band."""

from datetime import datetime
from typing import Any

from dashboard.charts.layout import COLOURS, GRID, layout, rounded, to_div

Point = tuple[datetime, float | None]
Band = tuple[datetime, float | None, float | None]


def observed_vs_expected(
    observed: list[Point], band: list[Band], start: datetime, end: datetime, label: str, unit: str
) -> str:
    """The series around an anomaly, its expected band, and the anomaly's span shaded."""
    data: list[dict[str, Any]] = []
    if band:
        times = [ts for ts, _, _ in band]
        data.append(
            {
                "type": "scatter",
                "x": times,
                "y": rounded(low for _, low, _ in band),
                "mode": "lines",
                "line": {"width": 0},
                "showlegend": False,
                "hoverinfo": "skip",
            }
        )
        data.append(
            {
                "type": "scatter",
                "x": times,
                "y": rounded(high for _, _, high in band),
                "mode": "lines",
                "line": {"width": 0},
                "fill": "tonexty",
                "fillcolor": COLOURS["band"],
                "name": "expected range",
            }
        )
    data.append(
        {
            "type": "scatter",
            "x": [ts for ts, _ in observed],
            "y": rounded(value for _, value in observed),
            "mode": "lines",
            "line": {"color": COLOURS["observed"], "width": 1.5},
            "name": label,
            "connectgaps": False,
        }
    )
    shaded = {
        "type": "rect",
        "xref": "x",
        "yref": "paper",
        "x0": start,
        "x1": end,
        "y0": 0,
        "y1": 1,
        "fillcolor": COLOURS["anomaly"],
        "line": {"width": 0},
        "layer": "below",
    }
    figure = {
        "data": data,
        "layout": layout(
            yaxis={"title": {"text": unit or None}, "gridcolor": GRID}, shapes=[shaded]
        ),
    }
    return to_div(figure, "anomaly")
