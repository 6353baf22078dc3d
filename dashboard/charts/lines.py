"""Line charts over time: one trace per named series."""

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import plotly.graph_objects as go

from dashboard.charts.layout import PALETTE, layout, to_div


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
    figure = go.Figure()
    for i, (label, values) in enumerate(traces.items()):
        figure.add_trace(
            go.Scatter(
                x=list(times),
                y=list(values),
                mode="lines",
                name=label,
                line={
                    "color": PALETTE[i % len(PALETTE)],
                    "width": 1.5,
                    "dash": "dot" if label in dashed else "solid",
                },
                connectgaps=False,
            )
        )
    yaxis: dict[str, Any] = {"title": y_title, "gridcolor": "#eef0f4", "rangemode": "tozero"}
    if y_range:
        yaxis["range"] = list(y_range)
    xaxis: dict[str, Any] = {"gridcolor": "#eef0f4"}
    if x_range:
        xaxis["range"] = list(x_range)
    figure.update_layout(layout(height=260, xaxis=xaxis, yaxis=yaxis, showlegend=len(traces) > 1))
    return to_div(figure, name)
