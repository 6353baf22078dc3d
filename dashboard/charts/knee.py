"""The knee: binned p95 latency against request rate, one panel per metric, with the
SLO target across each panel and the estimated capacity down all of them.

The builder reads the estimate's stored `detail` JSON (telemetry/capacity.py writes
it; the admin can edit it), so every field is read as "a number or nothing".
"""

import math
from typing import Any

from dashboard.charts.layout import COLOURS, GRID, PALETTE, layout, rounded, to_div
from dashboard.charts.points import mapping

METRICS = (("ttft", "TTFT"), ("itl", "Inter-token"), ("e2e", "End-to-end"))
GAP = 0.08  # between panels, as a share of the plot's height
FIT_POINTS = 48


LARGEST = 1e12  # no rate or latency comes near this; beyond it a figure is corrupt


def _num(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if math.isfinite(number) and abs(number) < LARGEST else None


def _fit(value: object) -> tuple[float, float, float] | None:
    """The queueing curve p95 = a + b * rate / (c - rate), when stored whole."""
    fit = mapping(value)
    a, b, c = (_num(fit.get(k)) for k in ("a", "b", "c"))
    if a is None or b is None or c is None or c < 1e-9:
        return None
    return a, b, c


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
    detail: object,
    capacity_rps: float | None,
    current_rps: float | None,
    lower_bound: bool = False,
    name: str = "knee",
) -> str | None:
    """None when no bin has a p95: the page says why instead."""
    data = mapping(detail)
    raw_bins = data.get("bins")
    bins = [b for b in raw_bins if isinstance(b, dict)] if isinstance(raw_bins, list) else []
    points: dict[str, list[tuple[float, float]]] = {}
    for metric, _ in METRICS:
        pairs = [(_num(b.get("rps")), _num(b.get(metric))) for b in bins]
        # A log axis: a p95 of 0 has no place on it (and no server answers in 0 s).
        kept = sorted((r, p) for r, p in pairs if r is not None and p is not None and r >= 0 < p)
        if kept:
            points[metric] = kept
    if not points:
        return None
    targets = mapping(data.get("targets_s"))
    per_metric = mapping(data.get("per_metric"))
    capacity = _num(capacity_rps)
    current = _num(current_rps)
    rates = [r for pairs in points.values() for r, _ in pairs]
    x_max = max([*rates, capacity or 0.0, current or 0.0, _num(data.get("busiest_rps")) or 0.0])
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
        target = _num(targets.get(metric))
        if target is not None and target > 0:
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
        fit = _fit(mapping(per_metric.get(metric)).get("fit"))
        if fit is not None:
            a, b, c = fit
            end = min(x_max, c * 0.98)
            fx = [end * k / (FIT_POINTS - 1) for k in range(FIT_POINTS)]
            fy = [(a + b * x / (c - x)) * 1000 for x in fx]
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
