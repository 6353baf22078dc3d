"""Spend over time, stacked by deployment or label value, idle last."""

from collections.abc import Mapping, Sequence
from datetime import datetime

from costs.selectors import IDLE_KEY
from dashboard.charts.layout import COLOURS, GRID, PALETTE, layout, plain, rounded, to_div


def spend_chart(
    name: str,
    times: Sequence[datetime],
    groups: Mapping[str, Sequence[float]],
    step_label: str,
    x_range: tuple[datetime, datetime] | None = None,
) -> str:
    """Stacked bars of $ per step; the idle group is grey so waste stands out."""
    x = list(times)
    data = [
        {
            "type": "bar",
            "x": x,
            "y": rounded(values, 6),
            "name": plain(group),
            "marker": {
                "color": COLOURS["idle"] if group == IDLE_KEY else PALETTE[i % len(PALETTE)]
            },
            # The name by reference: a deployment name is data, never part of the template.
            "hovertemplate": "%{fullData.name}<br>%{x}<br>$%{y:,.2f}<extra></extra>",
        }
        for i, (group, values) in enumerate(groups.items())
    ]
    xaxis = {"gridcolor": GRID, **({"range": list(x_range)} if x_range else {})}
    figure = {
        "data": data,
        "layout": layout(
            barmode="stack",
            bargap=0.05,
            hovermode="closest",
            xaxis=xaxis,
            yaxis={"title": {"text": f"$ per {step_label}"}, "gridcolor": GRID, "tickprefix": "$"},
        ),
    }
    return to_div(figure, name)
