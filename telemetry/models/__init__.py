from telemetry.models.capacity import CapacityBasis, CapacityEstimate
from telemetry.models.rollups import GpuRollup, InferenceRollup

__all__ = ["CapacityBasis", "CapacityEstimate", "GpuRollup", "InferenceRollup"]
