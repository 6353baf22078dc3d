from costs.models.prices import NodePrice, PriceBookEntry
from costs.models.records import Budget, CostRecord, HostedAlternative, HourlySpend
from costs.models.rollups import GpuRollup, InferenceRollup

__all__ = [
    "Budget",
    "CostRecord",
    "GpuRollup",
    "HostedAlternative",
    "HourlySpend",
    "InferenceRollup",
    "NodePrice",
    "PriceBookEntry",
]
