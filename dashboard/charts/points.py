"""What the profiling charts share: how a sweep point is named and described on hover.
(The JSON a job or a capability stores is read through profiling/records.py.)"""

from collections.abc import Iterable, Sequence

from profiling.models import ProfilingResult

GIB = 2**30
# Above the plot: below it, an x-axis title and a legend of several rows overlap on a phone.
LEGEND_ABOVE = {"orientation": "h", "x": 0, "y": 1.02, "yanchor": "bottom"}


def shape(r: ProfilingResult) -> str:
    return f"batch {r.batch_size} · prompt {r.prompt_len} · gen {r.gen_len}"


def several_shapes(results: Iterable[ProfilingResult]) -> bool:
    return len({(r.prompt_len, r.gen_len) for r in results}) > 1


def series_key(r: ProfilingResult, with_shape: bool) -> str:
    """The setting's label, plus prompt+gen lengths when a sweep has several: a line
    through one setting's batch sizes must not jump between request shapes."""
    return f"{r.label} · {r.prompt_len}+{r.gen_len}" if with_shape else r.label


def by_series(results: Sequence[ProfilingResult]) -> dict[str, list[ProfilingResult]]:
    """Results grouped by series key, smallest batch first, in sweep order of first point."""
    with_shape = several_shapes(results)
    groups: dict[str, list[ProfilingResult]] = {}
    for r in sorted(results, key=lambda r: r.index):
        groups.setdefault(series_key(r, with_shape), []).append(r)
    for rows in groups.values():
        rows.sort(key=lambda r: r.batch_size)
    return groups
