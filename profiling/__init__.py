"""GPU profiling: jobs and results in Django; `runner/` is plain torch, run on the nodes.

Nothing here imports Django at package level, so `profiling.runner` loads on a GPU
node that has only the agent and torch installed.
"""
