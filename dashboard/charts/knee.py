"""The knee: binned p95 latency against request rate, one panel per metric, with the
SLO target across each panel and the estimated capacity down all of them.

The builder takes the estimate's detail as decoded (telemetry/knee_types.py): its
figures were checked when the hourly job wrote them.
"""

import math
from typing import Any

from dashboard.charts.layout import COLOURS, GRID, PALETTE, layout, rounded, to_div
from telemetry.knee_types import KneeDetail

METRICS = (("ttft", "TTFT"), ("itl", "Inter-token"), ("e2e", "End-to-end"))
GAP = 0.08  # between panels, as a share of the plot's height
FIT_POINTS = 48


def _ticks(low: float, high: float) -> dict[str, list[Any]]:
    """1-2-5 ticks in [low, high] written out in full: Plotly's own log ticks label
    2 and 5 of each decade with the digit alone."""
    values = [
        m * 10.0**e
        for e in range(math.floor(math.log10(low)), math.ceil(math.log10(high)) + 1)
        for m in (1, 2, 5)
        if low <= m * 10.0**e <= high
    ]
    return {"tickvals": values, "ticktext": [f"{v:,.0f}" if v >= 1 else f"{v:g}" for v in values]}


def _near(rate: float, other: float | None, x_max: float) -> bool:
    return other is not None and abs(rate - other) < 0.3 * x_max


def knee_chart(
    detail: KneeDetail,
    capacity_rps: float | None,
    current_rps: float | None,
    lower_bound: bool = False,
    name: str = "knee",
) -> str | None:
    """None when no bin has a p95: the page says why instead."""
    points: dict[str, list[tuple[float, float]]] = {}
    for metric, _ in METRICS:
        # A log axis: a p95 of 0 has no place on it (and no server answers in 0 s).
        kept = sorted((b.rps, p) for b in detail.bins if (p := b.p95(metric)))
        if kept:
            points[metric] = kept
    if not points:
        return None
    capacity, current = capacity_rps, current_rps
    rates = [r for pairs in points.values() for r, _ in pairs]
    x_max = max([*rates, capacity or 0.0, current or 0.0, detail.busiest_rps])
    x_max = x_max * 1.1 or 1.0
    shown = [(m, label) for m, label in METRICS if m in points]
    height = (1 - GAP * (len(shown) - 1)) / len(shown)
    traces: list[dict[str, Any]] = []
    shapes: list[dict[str, Any]] = []
    annotations: list[dict[str, Any]] = []
    axes: dict[str, Any] = {}
    for i, (metric, label) in enumerate(shown):
        axis = "y" if i == 0 else f"y{i + 1}"
        colour = PALETTE[i % len(PALETTE)]
        xs, ys = zip(*points[metric], strict=True)
        ms = [p * 1000 for p in ys]
        traces.append(
            {
                "type": "scatter",
                "mode": "lines+markers",
                "x": rounded(xs),
                "y": rounded(ms),
                "yaxis": axis,
                "name": f"{label} p95",
                "line": {"color": colour, "width": 1.5},
                "marker": {"size": 6},
                "hovertemplate": "%{x:.2f} req/s<br>p95 %{y:,.0f} ms"
                "<extra>%{fullData.name}</extra>",
            }
        )
        low, top = min(ms), max(ms)
        target = detail.targets_s.get(metric)
        if target:
            low, top = min(low, target * 1000), max(top, target * 1000)
            shapes.append(
                {
                    "type": "line",
                    "xref": "paper",
                    "yref": axis,
                    "x0": 0,
                    "x1": 1,
                    "y0": target * 1000,
                    "y1": target * 1000,
                    "line": {"color": COLOURS["target"], "width": 1, "dash": "dash"},
                }
            )
            annotations.append(
                {
                    "xref": "paper",
                    "yref": axis,
                    "x": 0,
                    # Annotations on a log axis are placed in log10 units (shapes are not).
                    "y": math.log10(target * 1000),
                    "xanchor": "left",
                    "yanchor": "bottom",
                    "showarrow": False,
                    "text": f"target {target * 1000:,.0f} ms",
                    "font": {"size": 10, "color": COLOURS["target"]},
                }
            )
        knee = detail.per_metric.get(metric)
        fit = knee.fit if knee is not None else None
        # A saturation rate at or below 0 draws no curve (the formula divides by it).
        if fit is not None and fit.c > 1e-9:
            end = min(x_max, fit.c * 0.98)
            fx = [end * k / (FIT_POINTS - 1) for k in range(FIT_POINTS)]
            fy = [fit.at(x) * 1000 for x in fx]
            traces.append(
                {
                    "type": "scatter",
                    "mode": "lines",
                    "x": rounded(fx),
                    "y": rounded(y if y > 0 else None for y in fy),
                    "yaxis": axis,
                    "name": f"{label} fitted",
                    "line": {"color": colour, "width": 1, "dash": "dot"},
                    "hoverinfo": "skip",
                    "showlegend": False,
                }
            )
        upper = 1 - i * (height + GAP)
        axes["yaxis" if i == 0 else f"yaxis{i + 1}"] = {
            "domain": [max(0.0, upper - height), upper],
            "title": {"text": f"{label} (ms)"},
            "gridcolor": GRID,
            # Logarithmic: a target far above the measured latency must not flatten
            # the measurements into the axis. Room above and below the points and the
            # target line; the fitted curve may shoot out of it.
            "type": "log",
            "range": [math.log10(low / 1.5), math.log10(top * 1.5)],
            **_ticks(low / 1.5, top * 1.5),
        }
    for rate, text, colour, dash in (
        (
            capacity,
            f"capacity {'≥ ' if lower_bound else ''}{capacity or 0:.2f} req/s",
            "target",
            "solid",
        ),
        (current, f"now {current or 0:.2f} req/s", "observed", "dot"),
    ):
        if rate is None:
            continue
        shapes.append(
            {
                "type": "line",
                "xref": "x",
                "yref": "paper",
                "x0": rate,
                "x1": rate,
                "y0": 0,
                "y1": 1,
                "line": {"color": COLOURS[colour], "width": 1.5, "dash": dash},
            }
        )
        annotations.append(
            {
                "xref": "x",
                "yref": "paper",
                "x": rate,
                "y": 1,
                # Its label on the side with room: the right edge cuts it off on a phone.
                "xanchor": "left" if rate < 0.6 * x_max else "right",
                "yanchor": "bottom",
                # The load's label a line lower when the capacity's is close by.
                "yshift": -14 if dash == "dot" and _near(rate, capacity, x_max) else 0,
                "bgcolor": "rgba(255, 255, 255, 0.8)",
                "showarrow": False,
                "text": text,
                "font": {"size": 10, "color": COLOURS[colour]},
            }
        )
    figure = {
        "data": traces,
        "layout": layout(
            height=100 + 150 * len(shown),
            hovermode="closest",
            margin={"l": 64, "r": 16, "t": 28, "b": 40},
            xaxis={
                "title": {"text": "requests per second"},
                "gridcolor": GRID,
                "range": [0, x_max],
                "anchor": f"y{len(shown)}" if len(shown) > 1 else "y",
            },
            shapes=shapes,
            annotations=annotations,
            showlegend=False,
            **axes,
        ),
    }
    return to_div(figure, name)
