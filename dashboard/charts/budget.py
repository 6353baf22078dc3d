"""Budgets: spent so far and the month-end forecast against each limit."""

from collections.abc import Sequence

from costs.budgets import BudgetStatus
from dashboard.charts.layout import GRID, PALETTE, layout, plain, to_div


def budget_chart(statuses: Sequence[BudgetStatus]) -> str:
    names = [plain(s.budget.name) for s in statuses]
    bars = [
        ("spent", [float(s.spent) for s in statuses], PALETTE[0]),
        ("month-end forecast", [float(s.forecast) for s in statuses], PALETTE[1]),
    ]
    data: list[dict] = [
        {
            "type": "bar",
            "y": names,
            "x": x,
            "name": label,
            "orientation": "h",
            "marker": {"color": colour},
        }
        for label, x, colour in bars
    ]
    data.append(
        {
            "type": "scatter",
            "y": names,
            "x": [float(s.budget.monthly_usd) for s in statuses],
            "mode": "markers",
            "name": "budget",
            "marker": {
                "symbol": "line-ns-open",
                "size": 22,
                "line": {"width": 3, "color": "#b3261e"},
                "color": "#b3261e",
            },
        }
    )
    figure = {
        "data": data,
        "layout": layout(
            height=max(160, 70 + 40 * len(statuses)),
            barmode="group",
            hovermode="closest",
            xaxis={"tickprefix": "$", "gridcolor": GRID},
            yaxis={"autorange": "reversed"},
        ),
    }
    return to_div(figure, "budgets")
