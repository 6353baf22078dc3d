"""Decode throughput against inter-token latency, per setting, with the Pareto front."""

from collections.abc import Mapping, Sequence
from typing import Any

from dashboard.charts.layout import GRID, PALETTE, layout, plain, rounded, to_div
from dashboard.charts.points import LEGEND_ABOVE, shape
from profiling.models import ProfilingResult
from profiling.selectors import results_ok

# One symbol per job on the compare page; the colour stays the setting's.
SYMBOLS = ("circle", "square", "diamond", "triangle-up", "cross", "triangle-down", "pentagon")
HOVER = "%{text}<br>ITL %{x:.3g} ms<br>%{y:,.0f} decode tokens/s<extra>%{fullData.name}</extra>"


def _by_label(rows: Sequence[ProfilingResult]) -> dict[str, list[ProfilingResult]]:
    out: dict[str, list[ProfilingResult]] = {}
    for r in sorted(rows, key=lambda r: r.index):
        out.setdefault(r.label, []).append(r)
    return out


def _points(
    rows: Sequence[ProfilingResult], name: str, marker: dict[str, Any], text: str = ""
) -> dict[str, Any]:
    return {
        "type": "scatter",
        "mode": "markers",
        "x": rounded(r.itl_ms for r in rows),
        "y": rounded(r.decode_tokens_per_s for r in rows),
        "text": [f"{text}{shape(r)}" for r in rows],
        "hovertemplate": HOVER,
        "name": name,
        "marker": marker,
    }


def throughput_vs_latency(
    groups: Mapping[str, Sequence[ProfilingResult]],
    name: str,
    front: Sequence[ProfilingResult] = (),
    marked: Sequence[ProfilingResult] = (),
    marked_name: str = "cheapest meeting the target",
    itl_target: float | None = None,
) -> str | None:
    """groups: a job's name -> its points on the compare page; {"": points} on a job's
    own page. One trace per group and setting, coloured by setting; the front as a line
    through the settings nothing beats on both axes; `marked` as stars. None when no
    point measured both figures."""
    measured = [
        (group, label, rows)
        for group, points in groups.items()
        for label, rows in _by_label(results_ok(points)).items()
    ]
    if not measured:
        return None
    labels = list(dict.fromkeys(label for _, label, _ in measured))
    data: list[dict[str, Any]] = []
    for group, label, rows in measured:
        marker = {
            "color": PALETTE[labels.index(label) % len(PALETTE)],
            "symbol": SYMBOLS[list(groups).index(group) % len(SYMBOLS)],
            "size": 9,
            "line": {"width": 1, "color": "white"},
        }
        title = f"{group} · {label}" if group else label
        data.append(_points(rows, plain(title), marker))
    if front:
        line = {**_points(front, "Pareto front", {}), "mode": "lines"}
        line["line"] = {"color": "#1f2937", "width": 1.5, "dash": "dot"}
        line.pop("marker")
        data.append(line)
    if marked:
        star = {"symbol": "star", "size": 18, "color": "#f0e442"}
        star["line"] = {"width": 1.5, "color": "#1f2937"}
        data.append(_points(marked, marked_name, star, "cheapest: "))
    shapes = []
    if itl_target is not None:
        shapes.append(
            {
                "type": "line",
                "xref": "x",
                "yref": "paper",
                "x0": itl_target,
                "x1": itl_target,
                "y0": 0,
                "y1": 1,
                "line": {"color": "#b3261e", "width": 1, "dash": "dash"},
            }
        )
    figure = {
        "data": data,
        "layout": layout(
            height=340,
            hovermode="closest",
            xaxis={"title": {"text": "inter-token latency (ms)"}, "gridcolor": GRID},
            yaxis={"title": {"text": "decode tokens/s"}, "gridcolor": GRID, "rangemode": "tozero"},
            legend=LEGEND_ABOVE,
            shapes=shapes,
        ),
    }
    return to_div(figure, name)
