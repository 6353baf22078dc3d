"""Price book entries: what a GPU model costs an hour, by kind, from a day on."""

from datetime import date
from decimal import Decimal

from costs.models import PriceBookEntry


def price(
    usd: str,
    gpu_model: str = "H100 SXM",
    kind: str = "on_demand",
    valid_from: date = date(2026, 1, 1),
    source: str = "test",
) -> PriceBookEntry:
    """One price book entry: `gpu_model` at `usd` a GPU-hour of `kind` from `valid_from`."""
    return PriceBookEntry.objects.create(
        gpu_model=gpu_model,
        kind=kind,
        usd_per_gpu_hour=Decimal(usd),
        valid_from=valid_from,
        source=source,
    )
