"""$ per 1M tokens of each setting at one request shape, bars grouped by batch size."""

from collections.abc import Sequence
from typing import Any

from dashboard.charts.layout import GRID, PALETTE, layout, plain, rounded, to_div
from dashboard.charts.points import by_series, shape
from profiling.models import ProfilingResult
from profiling.selectors import Shape


def cost_per_setting(
    results: Sequence[ProfilingResult], request_shape: Shape | None = None
) -> str | None:
    """One bar per setting in each batch size's group, for the points of `request_shape`
    (prompt_len, gen_len) only when given: $ per 1M tokens counts prompt and generated
    tokens alike, so bars of different shapes would rank workloads, not settings. None
    when no point is priced (a CPU run, or a GPU with no price): the page says why."""
    priced = [
        r
        for r in results
        if r.usd_per_1m_tokens is not None
        and (request_shape is None or (r.prompt_len, r.gen_len) == request_shape)
    ]
    if not priced:
        return None
    batches = [f"batch {b}" for b in sorted({r.batch_size for r in priced})]
    data: list[dict[str, Any]] = [
        {
            "type": "bar",
            "x": [f"batch {r.batch_size}" for r in rows],
            "y": rounded(r.usd_per_1m_tokens for r in rows),
            "customdata": rounded(r.usd_per_1m_output_tokens for r in rows),
            "text": [shape(r) for r in rows],
            "textposition": "none",
            "hovertemplate": "%{text}<br>$%{y:.4g} per 1M tokens"
            "<br>$%{customdata:.4g} per 1M generated<extra>%{fullData.name}</extra>",
            "name": plain(key),
            "marker": {"color": PALETTE[i % len(PALETTE)]},
        }
        for i, (key, rows) in enumerate(by_series(priced).items())
    ]
    figure = {
        "data": data,
        "layout": layout(
            barmode="group",
            hovermode="closest",
            xaxis={"type": "category", "categoryorder": "array", "categoryarray": batches},
            yaxis={
                "title": {"text": "$ per 1M tokens"},
                "tickprefix": "$",
                "gridcolor": GRID,
                "rangemode": "tozero",
            },
        ),
    }
    return to_div(figure, "profile-cost")
