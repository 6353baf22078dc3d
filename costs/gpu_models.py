"""Canonical GPU model names, and the default price catalog that uses them.

Agents report whatever NVML, ROCm or DCGM call a card ("NVIDIA H100 80GB HBM3",
"Tesla T4", "AMD Instinct MI300X"). Prices are keyed on a short canonical name, so
`canonical_model()` is the one place that maps the first onto the second.
"""

import csv
import re
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path

from costs.choices import PricingKind

CANONICAL_MODELS: tuple[str, ...] = (
    "H200",
    "H100 SXM",
    "H100 PCIe",
    "H100 NVL",
    "A100 80GB",
    "A100 40GB",
    "L40S",
    "L4",
    "A10G",
    "A10",
    "T4",
    "V100",
    "MI300X",
)

PRICE_KINDS: tuple[str, ...] = tuple(PricingKind.values)

DEFAULT_PRICES_PATH = Path(__file__).parent / "data" / "gpu_prices.csv"

_PRICE_COLUMNS = ["gpu_model", "kind", "usd_per_gpu_hour", "valid_from", "source"]
_FOUR_PLACES = Decimal("0.0001")


def _rule(pattern: str, model: str) -> tuple[re.Pattern[str], str]:
    return re.compile(pattern, re.IGNORECASE), model


# \b keeps "L4" out of "L40S", "A10" out of "A10G"/"A100" and "H200" out of "GH200".
_RULES: tuple[tuple[re.Pattern[str], str], ...] = (
    _rule(r"\bH200\b", "H200"),
    _rule(r"\bH100\b.*\bNVL\b", "H100 NVL"),
    _rule(r"\bH100\b.*\bPCIe\b", "H100 PCIe"),
    # NVML names the SXM part after its memory ("NVIDIA H100 80GB HBM3"); a bare
    # "H100" could be any of the three, so it matches nothing.
    _rule(r"\bH100\b.*(\bSXM\d*\b|\bHBM3\b)", "H100 SXM"),
    _rule(r"\bA100\b.*\b80\s*GB\b", "A100 80GB"),
    _rule(r"\bA100\b.*\b40\s*GB\b", "A100 40GB"),
    _rule(r"\bL40S\b", "L40S"),
    _rule(r"\bL4\b", "L4"),
    _rule(r"\bA10G\b", "A10G"),
    _rule(r"\bA10\b", "A10"),
    _rule(r"\bT4\b", "T4"),
    _rule(r"\bV100S?\b", "V100"),
    _rule(r"\bMI300X\b", "MI300X"),
)
"""Ordered: the first match wins, so "A100-SXM4-80GB MIG 3g.40gb" is 80GB, not 40GB."""


def canonical_model(name: str) -> str | None:
    """Map a GPU name as NVML/ROCm/DCGM report it to a canonical model, or None
    when the name is unknown or too vague to price (a bare "NVIDIA A100")."""
    # Some exporters and node labels use underscores, which \b treats as letters.
    normalized = name.replace("_", " ")
    for pattern, model in _RULES:
        if pattern.search(normalized):
            return model
    return None


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
