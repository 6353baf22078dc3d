"""One GPU's charts over time: utilization, memory, power, temperature, clock, throttling."""

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from dashboard.charts.lines import line_chart

GIB = 2**30


def gpu_charts(
    times: Sequence[datetime],
    values: Mapping[str, Sequence[float | None]],
    x_range: tuple[datetime, datetime],
) -> dict[str, str | None]:
    """values: each GPU metric (telemetry.usage.GPU_METRICS) at each of `times`."""

    def scaled(metric: str, by: float = 1.0) -> list[float | None]:
        return [None if v is None else v / by for v in values[metric]]

    def chart(name: str, traces: dict[str, list[Any]], unit: str, **kw: Any) -> str | None:
        return line_chart(name, times, traces, unit, x_range=x_range, **kw)

    charts = {
        "Utilization": chart(
            "gpu-util",
            {"average %": scaled("util"), "peak %": scaled("util_max")},
            "%",
            y_range=(0, 100),
            dashed=["peak %"],
        ),
        "Memory": chart(
            "gpu-memory",
            {"used GiB": scaled("mem_used", GIB), "total GiB": scaled("mem_total", GIB)},
            "GiB",
            dashed=["total GiB"],
        ),
        "Power": chart(
            "gpu-power",
            {"average W": scaled("power"), "peak W": scaled("power_max")},
            "W",
            dashed=["peak W"],
        ),
        "Temperature": chart(
            "gpu-temp",
            {"average °C": scaled("temp"), "peak °C": scaled("temp_max")},
            "°C",
            dashed=["peak °C"],
        ),
        # dcgm-exporter's profiling fields: busy time of the engines, not just "a kernel ran".
        "Engine activity": chart(
            "gpu-activity",
            {
                "graphics engine %": scaled("gr_engine"),
                "tensor cores %": scaled("tensor"),
                "memory (DRAM) %": scaled("dram"),
            },
            "%",
            y_range=(0, 100),
        ),
        "SM clock": chart("gpu-clock", {"MHz": scaled("sm_clock")}, "MHz"),
        "Throttled": chart(
            "gpu-throttle", {"% of time": scaled("throttled_pct")}, "%", y_range=(0, 100)
        ),
    }
    if charts["Engine activity"] is None:
        # Only dcgm-exporter reads these: on an NVML GPU the card would always be empty.
        del charts["Engine activity"]
    return charts
