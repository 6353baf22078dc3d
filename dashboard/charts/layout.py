"""What every chart shares: fonts, margins, colours, and how a figure becomes markup."""

from typing import Any

import plotly.graph_objects as go
import plotly.io as pio

COLOURS = {
    "observed": "#1f2937",
    "band": "rgba(52, 211, 153, 0.25)",
    "anomaly": "rgba(215, 38, 61, 0.12)",
    "idle": "#b8bec9",
}
# Series colours in order (colour-blind-safe, after Okabe & Ito).
PALETTE = ("#0072b2", "#e69f00", "#009e73", "#cc79a7", "#56b4e9", "#d55e00", "#f0e442", "#000000")


def layout(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "height": 320,
        "margin": {"l": 56, "r": 16, "t": 24, "b": 40},
        "font": {"family": "-apple-system, Segoe UI, Helvetica, Arial, sans-serif", "size": 12},
        "paper_bgcolor": "white",
        "plot_bgcolor": "white",
        "hovermode": "x unified",
        "legend": {"orientation": "h", "y": -0.2},
        "xaxis": {"gridcolor": "#eef0f4"},
        "yaxis": {"gridcolor": "#eef0f4", "zeroline": False},
    }
    base.update(overrides)
    return base


def to_div(figure: go.Figure, name: str) -> str:
    return str(
        pio.to_html(
            figure,
            include_plotlyjs=False,
            full_html=False,
            div_id=f"chart-{name}",
            config={"displaylogo": False, "responsive": True},
        )
    )
