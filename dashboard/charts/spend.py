"""Spend over time, stacked by deployment or label value, idle last."""

from collections.abc import Mapping, Sequence
from datetime import datetime

import plotly.graph_objects as go

from dashboard.charts.layout import COLOURS, PALETTE, layout, to_div

IDLE_KEY = "(idle)"


def spend_chart(
    name: str,
    times: Sequence[datetime],
    groups: Mapping[str, Sequence[float]],
    step_label: str,
    x_range: tuple[datetime, datetime] | None = None,
) -> str:
    """Stacked bars of $ per step; the idle group is grey so waste stands out."""
    figure = go.Figure()
    for i, (group, values) in enumerate(groups.items()):
        colour = COLOURS["idle"] if group == IDLE_KEY else PALETTE[i % len(PALETTE)]
        figure.add_trace(
            go.Bar(
                x=list(times),
                y=list(values),
                name=group,
                marker={"color": colour},
                hovertemplate=f"{group}<br>%{{x}}<br>$%{{y:,.2f}}<extra></extra>",
            )
        )
    figure.update_layout(
        layout(
            barmode="stack",
            bargap=0.05,
            hovermode="closest",
            xaxis={"gridcolor": "#eef0f4", **({"range": list(x_range)} if x_range else {})},
            yaxis={"title": f"$ per {step_label}", "gridcolor": "#eef0f4", "tickprefix": "$"},
        )
    )
    return to_div(figure, name)
