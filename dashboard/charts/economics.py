"""A deployment's unit economics over time: goodput per step, and what its prefix cache
saved against what preemptions cost it again."""

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from costs.economics.selectors import Figures
from dashboard.charts.layout import COLOURS, GRID, PALETTE, layout, rounded, to_div


def _pct(value: float | None) -> float | None:
    return None if value is None else value * 100


def economics_charts(
    series: Mapping[datetime, Figures], step_label: str, x_range: tuple[datetime, datetime]
) -> dict[str, str | None]:
    """{"goodput": div, "cache": div}; None where there is nothing to draw in the range."""
    times = sorted(series)
    steps = [series[t] for t in times]
    return {
        "goodput": _goodput(times, steps, x_range),
        "cache": _cache(times, steps, step_label, x_range),
    }


def _goodput(
    times: list[datetime], steps: list[Figures], x_range: tuple[datetime, datetime]
) -> str | None:
    estimate = [_pct(f.goodput) for f in steps]
    if all(v is None for v in estimate):
        return None
    lines = (
        ("met the SLO", estimate, PALETTE[0], "solid"),
        ("at least", [_pct(f.goodput_min) for f in steps], PALETTE[0], "dot"),
    )
    data = [
        {
            "type": "scatter",
            "mode": "lines+markers",
            "x": times,
            "y": rounded(values),
            "name": name,
            "line": {"color": colour, "width": 1.5, "dash": dash},
            "marker": {"size": 4},
            "connectgaps": False,
            "hovertemplate": "%{y:.1f}%<extra>%{fullData.name}</extra>",
        }
        for name, values, colour, dash in lines
    ]
    figure = {
        "data": data,
        "layout": layout(
            height=260,
            xaxis={"gridcolor": GRID, "range": list(x_range)},
            yaxis={
                "title": {"text": "% of requests"},
                "gridcolor": GRID,
                "range": [0, 105],
                "ticksuffix": "%",
            },
        ),
    }
    return to_div(figure, "dep-goodput")


def _cache(
    times: list[datetime],
    steps: list[Figures],
    step_label: str,
    x_range: tuple[datetime, datetime],
) -> str | None:
    if not any(f.cache_saved_usd or f.recompute_usd for f in steps):
        return None
    data: list[dict[str, Any]] = [
        {
            "type": "bar",
            "x": times,
            "y": rounded((f.cache_saved_usd for f in steps), 6),
            "name": "saved by cache hits",
            "marker": {"color": PALETTE[2]},
            "hovertemplate": "$%{y:,.4f}<extra>%{fullData.name}</extra>",
        },
        {
            "type": "bar",
            "x": times,
            # Below the axis: money the cache did not save but spent again.
            "y": rounded((-f.recompute_usd for f in steps), 6),
            "name": "recomputed after preemption",
            "marker": {"color": COLOURS["held"]},
            "hovertemplate": "$%{y:,.4f}<extra>%{fullData.name}</extra>",
        },
        {
            "type": "scatter",
            "mode": "lines+markers",
            "x": times,
            "y": rounded((f.cache_net_usd for f in steps), 6),
            "name": "net",
            "line": {"color": COLOURS["observed"], "width": 1.5},
            "marker": {"size": 4},
            "hovertemplate": "$%{y:,.4f}<extra>%{fullData.name}</extra>",
        },
    ]
    figure = {
        "data": data,
        "layout": layout(
            height=260,
            barmode="relative",
            xaxis={"gridcolor": GRID, "range": list(x_range)},
            yaxis={
                "title": {"text": f"$ per {step_label}"},
                "gridcolor": GRID,
                "tickprefix": "$",
            },
        ),
    }
    return to_div(figure, "dep-cache")
