from collectors.models.fleet import Agent, Deployment, Gpu, Node
from collectors.models.samples import GpuSample, InferenceSample, IngestBatch, SampleSpan
from collectors.models.settings import DeploymentSettings, settings_for

__all__ = [
    "Agent",
    "Deployment",
    "DeploymentSettings",
    "Gpu",
    "GpuSample",
    "InferenceSample",
    "IngestBatch",
    "Node",
    "SampleSpan",
    "settings_for",
]
