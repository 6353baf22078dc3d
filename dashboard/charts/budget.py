"""Budgets: spent so far and the month-end forecast against each limit."""

from collections.abc import Sequence

import plotly.graph_objects as go

from costs.budgets import BudgetStatus
from dashboard.charts.layout import PALETTE, layout, to_div


def budget_chart(statuses: Sequence[BudgetStatus]) -> str:
    names = [s.budget.name for s in statuses]
    figure = go.Figure()
    figure.add_trace(
        go.Bar(
            y=names,
            x=[float(s.spent) for s in statuses],
            name="spent",
            orientation="h",
            marker={"color": PALETTE[0]},
        )
    )
    figure.add_trace(
        go.Bar(
            y=names,
            x=[float(s.forecast) for s in statuses],
            name="month-end forecast",
            orientation="h",
            marker={"color": PALETTE[1]},
        )
    )
    figure.add_trace(
        go.Scatter(
            y=names,
            x=[float(s.budget.monthly_usd) for s in statuses],
            mode="markers",
            name="budget",
            marker={"symbol": "line-ns-open", "size": 22, "line": {"width": 3}, "color": "#b3261e"},
        )
    )
    figure.update_layout(
        layout(
            height=max(160, 70 + 40 * len(statuses)),
            barmode="group",
            hovermode="closest",
            xaxis={"tickprefix": "$", "gridcolor": "#eef0f4"},
            yaxis={"autorange": "reversed"},
        )
    )
    return to_div(figure, "budgets")
