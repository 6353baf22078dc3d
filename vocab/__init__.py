"""The words every part of Inferscope shares, in plain Python with no Django.

GPU models and their peaks (`gpus`), the inference servers' metric dialects
(`servers`), profiling sweep specs and presets (`sweeps`, `presets`). The node
agent and the profiling runner import this package on GPU nodes; pricing, pages
and rules import the same names, so a GPU model or a server metric is spelled in
one place.
"""
