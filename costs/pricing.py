"""Which price applies to a GPU on a day: the node's override, else the price book."""

from bisect import bisect_right
from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import TypeVar

from costs.choices import NodePricingKind, PricingKind
from costs.gpu_models import canonical_model
from costs.models import NodePrice, PriceBookEntry
from inferscope.lib.money import HOURS_PER_YEAR

ZERO = Decimal(0)
T = TypeVar("T", PriceBookEntry, NodePrice)


@dataclass(frozen=True)
class Rate:
    """$ per GPU-hour present, plus $ per measured kWh for on-premises nodes."""

    usd_per_hour: Decimal
    usd_per_kwh: Decimal
    pue: Decimal
    description: str
    priced: bool = True

    def cost(self, hours: Decimal, energy_kwh: Decimal) -> Decimal:
        return self.usd_per_hour * hours + self.usd_per_kwh * self.pue * energy_kwh


class PriceList:
    """Every price, loaded once: attributing many hours asks it thousands of times."""

    def __init__(self) -> None:
        self._book: dict[tuple[str, str], list[PriceBookEntry]] = defaultdict(list)
        for entry in PriceBookEntry.objects.order_by("valid_from"):
            self._book[(entry.gpu_model, entry.kind)].append(entry)
        self._nodes: dict[int, list[NodePrice]] = defaultdict(list)
        for price in NodePrice.objects.order_by("valid_from"):
            self._nodes[price.node_id].append(price)

    def rate(self, node_id: int, gpu_model: str, day: date) -> Rate:
        override = _latest(self._nodes.get(node_id, []), day)
        kind = override.kind if override else NodePricingKind.ON_DEMAND
        if override and kind == NodePricingKind.CUSTOM:
            return Rate(
                override.usd_per_gpu_hour or ZERO,
                ZERO,
                Decimal(1),
                f"node price: ${override.usd_per_gpu_hour}/GPU-h from {override.valid_from}",
            )
        if override and kind == NodePricingKind.ON_PREM:
            years = override.amortize_years or Decimal(1)
            per_hour = (override.purchase_usd_per_gpu or ZERO) / (years * HOURS_PER_YEAR)
            return Rate(
                per_hour,
                override.usd_per_kwh or ZERO,
                override.pue,
                f"on-premises: ${override.purchase_usd_per_gpu} over {years} years"
                f" + ${override.usd_per_kwh}/kWh x PUE {override.pue}, from {override.valid_from}",
            )
        model = canonical_model(gpu_model) or gpu_model
        entry = _latest(self._book.get((model, str(kind)), []), day)
        if entry is None:
            label = PricingKind(kind).label.lower()
            return Rate(ZERO, ZERO, Decimal(1), f"no {label} price for '{gpu_model}'", False)
        return Rate(
            entry.usd_per_gpu_hour,
            ZERO,
            Decimal(1),
            f"price book: {entry.gpu_model} {entry.kind} ${entry.usd_per_gpu_hour}/GPU-h"
            f" from {entry.valid_from}",
        )


def _latest(entries: list[T], day: date) -> T | None:
    index = bisect_right([e.valid_from for e in entries], day)
    return entries[index - 1] if index else None
