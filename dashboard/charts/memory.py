"""Peak memory against batch size per setting, with the points that ran out of memory."""

from collections.abc import Sequence
from typing import Any

from dashboard.charts.layout import GRID, PALETTE, layout, plain, rounded, to_div
from dashboard.charts.points import GIB, LEGEND_ABOVE, by_series, shape
from profiling.choices import PointStatus
from profiling.models import ProfilingResult

OOM_COLOUR = "#b3261e"


def memory_vs_batch(
    results: Sequence[ProfilingResult], device_memory_bytes: int | None = None
) -> str | None:
    """One line per setting (and request shape, when the sweep has several). A point
    that ran out of memory has no peak to draw, so it is an x at the top of the chart:
    at the device's memory when the peaks come near it, else just above the highest
    peak (an 80 GiB line would flatten a small model's lines to the floor). No device
    memory (None or 0) draws no line."""
    measured = [r for r in results if r.peak_memory_bytes is not None]
    oom = [r for r in results if r.status == PointStatus.OOM]
    if not measured and not oom:
        return None
    highest = max((r.peak_memory_bytes or 0 for r in measured), default=0)
    device = device_memory_bytes or 0
    at_device = bool(device) and (highest >= device / 2 or not highest)
    top = (device if at_device else highest * 1.15 or GIB) / GIB
    data: list[dict[str, Any]] = [
        {
            "type": "scatter",
            "mode": "lines+markers",
            "x": [r.batch_size for r in rows],
            "y": rounded((r.peak_memory_bytes or 0) / GIB for r in rows),
            "text": [shape(r) for r in rows],
            "hovertemplate": "%{text}<br>%{y:.3g} GiB peak<extra>%{fullData.name}</extra>",
            "name": plain(key),
            "line": {"color": PALETTE[i % len(PALETTE)], "width": 1.5},
        }
        for i, (key, rows) in enumerate(by_series(measured).items())
    ]
    if oom:
        data.append(
            {
                "type": "scatter",
                "mode": "markers",
                "x": [r.batch_size for r in oom],
                "y": [round(top, 3)] * len(oom),
                "text": [plain(f"out of memory: {r.label} · {shape(r)}") for r in oom],
                "hovertemplate": "%{text}<extra></extra>",
                "name": "out of memory",
                "marker": {"symbol": "x", "size": 12, "color": OOM_COLOUR},
            }
        )
    shapes = []
    if at_device:
        shapes.append(
            {
                "type": "line",
                "xref": "paper",
                "yref": "y",
                "x0": 0,
                "x1": 1,
                "y0": top,
                "y1": top,
                "line": {"color": "#5b6576", "width": 1, "dash": "dot"},
            }
        )
    batches = sorted({r.batch_size for r in [*measured, *oom]})
    figure = {
        "data": data,
        "layout": layout(
            hovermode="closest",
            # Batch sizes usually double: a log axis spaces them evenly.
            xaxis={
                "title": {"text": "batch size"},
                "type": "log",
                "tickvals": batches,
                "ticktext": [str(b) for b in batches],
                "gridcolor": GRID,
            },
            yaxis={
                "title": {"text": "peak memory (GiB)"},
                "gridcolor": GRID,
                "range": [0, round(top * 1.08, 3)],
            },
            legend=LEGEND_ABOVE,
            shapes=shapes,
        ),
    }
    return to_div(figure, "profile-memory")
