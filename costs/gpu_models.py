"""The default price catalog, keyed on the canonical GPU model names.

The names and `canonical_model()` live in `vocab.gpus`, plain Python the
profiling runner also loads on GPU nodes, so prices and peak FLOP/s share one map.
"""

import csv
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path

from costs.choices import PricingKind
from vocab.gpus import CANONICAL_MODELS, canonical_model

__all__ = ["CANONICAL_MODELS", "PRICE_KINDS", "canonical_model", "load_default_prices"]

PRICE_KINDS: tuple[str, ...] = tuple(PricingKind.values)

DEFAULT_PRICES_PATH = Path(__file__).parent / "data" / "gpu_prices.csv"

_PRICE_COLUMNS = ["gpu_model", "kind", "usd_per_gpu_hour", "valid_from", "source"]
_FOUR_PLACES = Decimal("0.0001")


def load_default_prices(path: Path = DEFAULT_PRICES_PATH) -> list[dict[str, object]]:
    """Read the price catalog CSV into typed rows.

    Each row has gpu_model and kind (str), usd_per_gpu_hour (Decimal), valid_from
    (date) and source (str). Raises ValueError naming the file line of the first
    row with an unknown model or kind, a price that is not a positive amount with
    at most 4 decimal places, a date that is not ISO, or an empty source.
    """
    rows: list[dict[str, object]] = []
    with path.open(newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        if reader.fieldnames != _PRICE_COLUMNS:
            raise ValueError(f"{path.name}: columns must be {_PRICE_COLUMNS}")
        for record in reader:
            where = f"{path.name} line {reader.line_num}"
            if record["gpu_model"] not in CANONICAL_MODELS:
                raise ValueError(f"{where}: unknown gpu_model {record['gpu_model']!r}")
            if record["kind"] not in PRICE_KINDS:
                raise ValueError(f"{where}: unknown kind {record['kind']!r}, not in {PRICE_KINDS}")
            try:
                price = Decimal(record["usd_per_gpu_hour"])
                valid_from = date.fromisoformat(record["valid_from"])
            except (InvalidOperation, TypeError, ValueError) as exc:
                raise ValueError(f"{where}: bad price or date ({exc})") from exc
            if not price.is_finite() or price <= 0 or price != price.quantize(_FOUR_PLACES):
                raise ValueError(f"{where}: price must be > 0 with at most 4 decimals: {price}")
            if not (record["source"] or "").strip():
                raise ValueError(f"{where}: source is empty")
            rows.append(
                {
                    "gpu_model": record["gpu_model"],
                    "kind": record["kind"],
                    "usd_per_gpu_hour": price,
                    "valid_from": valid_from,
                    "source": record["source"],
                }
            )
    return rows
