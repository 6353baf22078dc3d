"""Line charts over time: one trace per named series."""

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from dashboard.charts.layout import GRID, PALETTE, layout, plain, rounded, to_div


def line_chart(
    name: str,
    times: Sequence[datetime],
    traces: Mapping[str, Sequence[Any]],
    y_title: str,
    y_range: tuple[float, float] | None = None,
    dashed: Sequence[str] = (),
    x_range: tuple[datetime, datetime] | None = None,
) -> str | None:
    """One line per trace; None values are gaps (no data), never drawn as zero.

    None when no trace has a single value: the page shows its empty state instead.
    """
    if not any(v is not None for values in traces.values() for v in values):
        return None
    x = list(times)
    data = [
        {
            "type": "scatter",
            "x": x,
            "y": rounded(values),
            "mode": "lines",
            "name": plain(label),
            "line": {
                "color": PALETTE[i % len(PALETTE)],
                "width": 1.5,
                "dash": "dot" if label in dashed else "solid",
            },
            "connectgaps": False,
        }
        for i, (label, values) in enumerate(traces.items())
    ]
    yaxis: dict[str, Any] = {"title": {"text": y_title}, "gridcolor": GRID, "rangemode": "tozero"}
    if y_range:
        yaxis["range"] = list(y_range)
    xaxis: dict[str, Any] = {"gridcolor": GRID}
    if x_range:
        xaxis["range"] = list(x_range)
    figure = {
        "data": data,
        "layout": layout(height=260, xaxis=xaxis, yaxis=yaxis, showlegend=len(traces) > 1),
    }
    return to_div(figure, name)
