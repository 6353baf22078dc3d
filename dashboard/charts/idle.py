"""Spend over time split into active, idle-held and truly idle GPU time."""

from collections.abc import Sequence
from datetime import datetime

from costs.economics.selectors import IdleStep
from dashboard.charts.layout import COLOURS, GRID, layout, rounded, to_div

SERIES = (
    ("active", "active", "active_usd", "active_hours"),
    ("held", "idle-held", "idle_held_usd", "idle_held_hours"),
    ("idle", "truly idle", "truly_idle_usd", "truly_idle_hours"),
)


def idle_chart(
    name: str,
    steps: Sequence[IdleStep],
    step_label: str,
    x_range: tuple[datetime, datetime] | None = None,
) -> str | None:
    """Stacked bars of $ per step, one series per kind of GPU time; None without steps."""
    if not steps:
        return None
    x = [s.at for s in steps]
    data = [
        {
            "type": "bar",
            "x": x,
            "y": rounded((float(getattr(s, usd)) for s in steps), 6),
            "customdata": rounded((getattr(s, hours) for s in steps), 4),
            "name": label,
            "marker": {"color": COLOURS[colour]},
            "hovertemplate": "%{fullData.name}<br>%{x}<br>$%{y:,.2f} · %{customdata:,.2f} GPU-h"
            "<extra></extra>",
        }
        for colour, label, usd, hours in SERIES
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
