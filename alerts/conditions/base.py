from typing import NamedTuple


class Breach(NamedTuple):
    value: float | None
    summary: str  # one sentence a person can act on
    severity: str = "warning"


def fmt(value: float) -> str:
    return f"{value:.3g}" if abs(value) < 1e6 else f"{value:,.0f}"
