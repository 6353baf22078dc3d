from collectors.models.fleet import Agent, Deployment, Gpu, Node
from collectors.models.samples import GpuSample, InferenceSample, IngestBatch, SampleSpan

__all__ = [
    "Agent",
    "Deployment",
    "Gpu",
    "GpuSample",
    "InferenceSample",
    "IngestBatch",
    "Node",
    "SampleSpan",
]
