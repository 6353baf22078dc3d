"""Timing that means something: CUDA events with one synchronization per repeat on a
GPU, perf_counter on the CPU; warm-up runs first; median and spread of the repeats."""

import statistics
import time
from dataclasses import dataclass
from typing import Any

import torch


class Clock:
    """Marks points in the device's own timeline.

    On CUDA the marks are events recorded in the stream, so they time the GPU's work
    (idle gaps from launch overhead included), not how fast Python queued it.
    """

    def __init__(self, device: torch.device) -> None:
        self.cuda = device.type == "cuda"

    def mark(self) -> Any:
        if self.cuda:
            event = torch.cuda.Event(enable_timing=True)
            event.record()
            return event
        return time.perf_counter()

    def seconds(self, start: Any, end: Any) -> float:
        """Call after sync(): the CUDA event must have completed."""
        if self.cuda:
            return float(start.elapsed_time(end)) / 1000.0
        return float(end - start)

    def sync(self) -> None:
        if self.cuda:
            torch.cuda.synchronize()


@dataclass(frozen=True)
class Stats:
    median: float
    low: float
    high: float
    n: int

    @classmethod
    def of(cls, values: list[float]) -> "Stats":
        return cls(statistics.median(values), min(values), max(values), len(values))

    @property
    def spread_pct(self) -> float:
        """(max - min) / median, in percent: how much the repeats disagree."""
        return (self.high - self.low) / self.median * 100 if self.median else 0.0
