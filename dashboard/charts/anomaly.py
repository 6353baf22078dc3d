from datetime import datetime

import plotly.graph_objects as go

from dashboard.charts.layout import COLOURS, layout, to_div

Point = tuple[datetime, float | None]
Band = tuple[datetime, float | None, float | None]


def observed_vs_expected(
    observed: list[Point], band: list[Band], start: datetime, end: datetime, label: str, unit: str
) -> str:
    """The series around an anomaly, its expected band, and the anomaly's span shaded."""
    figure = go.Figure()
    if band:
        times = [ts for ts, _, _ in band]
        figure.add_trace(
            go.Scatter(
                x=times,
                y=[low for _, low, _ in band],
                mode="lines",
                line={"width": 0},
                showlegend=False,
                hoverinfo="skip",
            )
        )
        figure.add_trace(
            go.Scatter(
                x=times,
                y=[high for _, _, high in band],
                mode="lines",
                line={"width": 0},
                fill="tonexty",
                fillcolor=COLOURS["band"],
                name="expected range",
            )
        )
    figure.add_trace(
        go.Scatter(
            x=[ts for ts, _ in observed],
            y=[value for _, value in observed],
            mode="lines",
            line={"color": COLOURS["observed"], "width": 1.5},
            name=label,
            connectgaps=False,
        )
    )
    figure.add_vrect(x0=start, x1=end, fillcolor=COLOURS["anomaly"], line_width=0)
    figure.update_layout(layout(yaxis={"title": unit or None, "gridcolor": "#eef0f4"}))
    return to_div(figure, "anomaly")
