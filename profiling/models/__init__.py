from profiling.models.jobs import ProfilingCapability, ProfilingJob, ProfilingResult

__all__ = ["ProfilingCapability", "ProfilingJob", "ProfilingResult"]
