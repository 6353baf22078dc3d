"""Anomalies on a timeline: one row per entity, a bar from each anomaly's start to its end."""

from collections.abc import Sequence
from datetime import timedelta

from anomaly.models import Anomaly
from dashboard.charts.layout import GRID, layout, plain, to_div

SEVERITY_COLOURS = {"critical": "#b3261e", "warning": "#d97706", "info": "#0072b2"}
# A one-point anomaly still shows as a visible bar.
MIN_WIDTH = timedelta(minutes=5)


def anomaly_timeline(anomalies: Sequence[Anomaly], start: object, end: object) -> str | None:
    if not anomalies:
        return None
    data = []
    for severity, colour in SEVERITY_COLOURS.items():
        rows = [a for a in anomalies if a.severity == severity]
        if not rows:
            continue
        data.append(
            {
                "type": "bar",
                "orientation": "h",
                "name": severity,
                "y": [plain(a.entity_label) for a in rows],
                "base": [a.start for a in rows],
                # A date axis takes a bar's length in milliseconds.
                "x": [max(a.end - a.start, MIN_WIDTH).total_seconds() * 1000 for a in rows],
                "marker": {"color": colour},
                "customdata": [[a.metric, plain(a.explanation[:160])] for a in rows],
                "hovertemplate": "%{y}<br>%{base}<br>%{customdata[0]}: %{customdata[1]}"
                "<extra></extra>",
            }
        )
    entities = {a.entity_label for a in anomalies}  # rows of the chart
    figure = {
        "data": data,
        "layout": layout(
            height=max(180, min(600, 90 + 24 * len(entities))),
            barmode="overlay",
            hovermode="closest",
            xaxis={"type": "date", "range": [start, end], "gridcolor": GRID},
            yaxis={"type": "category", "autorange": "reversed", "automargin": True},
        ),
    }
    return to_div(figure, "anomaly-timeline")
