"""GPU utilization as a heatmap: one row per GPU, one column per step."""

from collections.abc import Sequence
from datetime import datetime

from dashboard.charts.layout import layout, plain, rounded, to_div


def utilization_heatmap(
    gpus: Sequence[str], times: Sequence[datetime], cells: Sequence[Sequence[float | None]]
) -> str:
    """cells[i][j]: GPU i's average utilization (%) at times[j]; None where it did not report."""
    figure = {
        "data": [
            {
                "type": "heatmap",
                "x": list(times),
                "y": [plain(gpu) for gpu in gpus],
                "z": [rounded(row, 3) for row in cells],
                "zmin": 0,
                "zmax": 100,
                "colorscale": "Viridis",
                "colorbar": {"title": {"text": "util %"}, "thickness": 12},
                "hovertemplate": "%{y}<br>%{x}<br>%{z:.0f}%<extra></extra>",
                "hoverongaps": False,
            }
        ],
        "layout": layout(
            height=max(220, min(900, 60 + 14 * len(gpus))),
            hovermode="closest",
            yaxis={"autorange": "reversed", "type": "category"},
        ),
    }
    return to_div(figure, "gpu-heatmap")
