"""The profiling runner: plain Python and torch, no Django.

`python -m profiling.runner` (installed as `inferscope-profile`) runs a sweep and
prints a table, JSON, or one JSON line per point for the agent that started it.
"""

RUNNER_VERSION = "inferscope-profile/0.1.0"
