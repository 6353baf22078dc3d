"""What the profiling charts and pages share: how a sweep point is named and described
on hover, and how the JSON a job or a node's capability stored is read.

Rows stored before the server checked agents' reports strictly, or edited in the
admin, may hold anything where a count or a list belongs ("80GB", a device without
its memory, a spec without its lists): the pages read those fields through the
helpers here and show a dash rather than fail.
"""

import math
import re
from collections.abc import Iterable, Sequence
from typing import Any

from profiling.models import ProfilingResult

GIB = 2**30
LARGEST = 2**63  # beyond any memory or parameter count, and still a float to divide
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


def positive_int(value: object) -> int | None:
    """A stored count (bytes, parameters, layers) as a positive int, or None: an int,
    a finite float or a string of ASCII digits; anything else (a bool, "80GB", a
    list, 0, a number too big to divide) is no figure."""
    if isinstance(value, bool):
        return None
    number: int | None = None
    if isinstance(value, int):
        number = value
    elif isinstance(value, float) and math.isfinite(value) and value < LARGEST:
        number = int(value)
    elif isinstance(value, str) and re.fullmatch(r"[0-9]{1,19}", value.strip()):
        number = int(value.strip())
    return number if number is not None and 0 < number <= LARGEST else None


def mapping(value: object) -> dict[str, Any]:
    """A stored JSON object, or {} when the row holds something else there."""
    return value if isinstance(value, dict) else {}


def strings(value: object) -> list[str]:
    """A stored list of names (presets, model paths): its strings, nothing else."""
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []


def listed(value: object) -> str:
    """A stored list of a sweep's values as "1, 8, 32"; a lone value as itself; "—" when
    missing."""
    if value is None or value == "" or value == []:
        return "—"
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return str(value)


def devices_of(value: object) -> list[tuple[str, int | None]]:
    """A capability's devices as (name, memory bytes or None); entries that are not
    objects are skipped."""
    if not isinstance(value, list):
        return []
    return [
        (str(d.get("name") or "GPU"), positive_int(d.get("memory_bytes")))
        for d in value
        if isinstance(d, dict)
    ]
