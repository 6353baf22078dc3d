"""What every chart shares: fonts, margins, colours, and how a figure becomes markup.

Builders write Plotly figures as plain dicts (the same spec `go.Figure` holds) and
skip plotly's per-value validation when rendering: validating a 360-point chart
costs ~10 ms, rendering it ~0.3 ms. The test suite turns validation on
(VALIDATE), so every builder's output is still checked against Plotly's schema.
"""

import html
from typing import Any

import plotly.graph_objects as go
import plotly.io as pio

COLOURS = {
    "observed": "#1f2937",
    "band": "rgba(52, 211, 153, 0.25)",
    "anomaly": "rgba(215, 38, 61, 0.12)",
    "idle": "#b8bec9",
    # The three kinds of GPU time: idle-held is the waste a user must see first.
    "active": "#0072b2",
    "held": "#d55e00",
    "target": "#b3261e",
}
# Series colours in order (colour-blind-safe, after Okabe & Ito).
PALETTE = ("#0072b2", "#e69f00", "#009e73", "#cc79a7", "#56b4e9", "#d55e00", "#f0e442", "#000000")
GRID = "#eef0f4"
VALIDATE = False

Figure = dict[str, Any]


def layout(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "height": 320,
        "margin": {"l": 56, "r": 16, "t": 24, "b": 40},
        "font": {"family": "-apple-system, Segoe UI, Helvetica, Arial, sans-serif", "size": 12},
        "paper_bgcolor": "white",
        "plot_bgcolor": "white",
        "hovermode": "x unified",
        "legend": {"orientation": "h", "y": -0.2},
        "xaxis": {"gridcolor": GRID},
        "yaxis": {"gridcolor": GRID, "zeroline": False},
    }
    base.update(overrides)
    return base


def plain(text: str) -> str:
    """A name from the fleet (deployment, node, label) as text Plotly will not read as markup:
    Plotly renders a subset of HTML in names and labels, links included."""
    return html.escape(text, quote=False)


def rounded(values: Any, digits: int = 4) -> list[float | None]:
    """Values to a few significant places: the page carries what a chart can show."""
    return [None if v is None else float(f"{v:.{digits}g}") for v in values]


def to_div(figure: Figure, name: str) -> str:
    if VALIDATE:
        go.Figure(figure)  # raises on anything Plotly would not draw as meant
    return str(
        pio.to_html(
            figure,
            include_plotlyjs=False,
            full_html=False,
            div_id=f"chart-{name}",
            config={"displaylogo": False, "responsive": True},
            validate=False,
        )
    )


def step_label(step: int) -> str:
    """A chart step in words, for axis titles: "$ per hour", "$ per 2 days"."""
    if step % 86400 == 0:
        return "day" if step == 86400 else f"{step // 86400} days"
    if step % 3600 == 0:
        return "hour" if step == 3600 else f"{step // 3600} hours"
    return f"{step // 60} min"
