"""The telemetry read model: rollups of the raw samples and what is read from them.

Rollup models and jobs, the one rollup reader (`usage`), histogram maths, the
per-deployment latency and throughput figures, and capacity (the knee of
latency against load). It knows nothing of prices: `costs` sits above it.
"""
