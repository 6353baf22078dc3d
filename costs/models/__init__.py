from costs.models.prices import NodePrice, PriceBookEntry
from costs.models.records import Budget, CostRecord, HostedAlternative, HourlySpend

__all__ = [
    "Budget",
    "CostRecord",
    "HostedAlternative",
    "HourlySpend",
    "NodePrice",
    "PriceBookEntry",
]
