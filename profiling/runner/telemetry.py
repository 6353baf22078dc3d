"""What the device did while a point ran: power, energy and utilization from NVML in a
side thread (GPU), and the process's peak memory (GPU allocator or Linux RSS)."""

import contextlib
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from profiling.runner.device import proc_kib

# NVML averages utilization over 1/6 s or more and power over about 1 s, so faster
# polling adds no information, only driver calls and GIL hand-offs beside a decode
# loop that is bound by Python's kernel launches.
SAMPLE_EVERY_S = 0.1


@dataclass(frozen=True)
class Reading:
    avg_power_w: float | None
    energy_j: float | None
    gpu_util_pct: float | None


class GpuMonitor:
    """Samples one GPU's power and utilization every 100 ms between start() and stop().

    Energy comes from the board's energy counter (Volta and newer) when it exists,
    else from the power samples integrated over time. `nvml` is the pynvml module,
    passed in so tests without a GPU can hand it a fake.
    """

    def __init__(self, nvml: Any, handle: Any) -> None:
        self.nvml = nvml
        self.handle = handle
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._power: list[float] = []
        self._util: list[float] = []
        self._energy_start: float | None = None
        self._started = 0.0

    @classmethod
    def for_device(cls, device: torch.device) -> "GpuMonitor | None":
        if device.type != "cuda":
            return None
        try:
            import pynvml

            pynvml.nvmlInit()
            # By UUID: CUDA's device numbers follow CUDA_VISIBLE_DEVICES, NVML's do not.
            # torch prints the UUID bare; NVML wants it with its "GPU-" (or "MIG-") prefix.
            uuid = str(torch.cuda.get_device_properties(device).uuid)
            if not uuid.startswith(("GPU-", "MIG-")):
                uuid = f"GPU-{uuid}"
            handle = pynvml.nvmlDeviceGetHandleByUUID(uuid)
        except Exception:  # no NVML (a ROCm build, a container without the library)
            return None
        return cls(pynvml, handle)

    def _energy_mj(self) -> float | None:
        try:
            return float(self.nvml.nvmlDeviceGetTotalEnergyConsumption(self.handle))
        except Exception:
            return None

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self._power.append(self.nvml.nvmlDeviceGetPowerUsage(self.handle) / 1000.0)
                self._util.append(float(self.nvml.nvmlDeviceGetUtilizationRates(self.handle).gpu))
            except Exception:
                pass  # one failed read must not end the measurement
            self._stop.wait(SAMPLE_EVERY_S)

    def start(self) -> None:
        self._power, self._util = [], []
        self._stop.clear()
        self._started = time.perf_counter()
        self._energy_start = self._energy_mj()
        self._thread = threading.Thread(target=self._loop, name="nvml-sampler", daemon=True)
        self._thread.start()

    def stop(self) -> Reading:
        elapsed = time.perf_counter() - self._started
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        end = self._energy_mj()
        power = sum(self._power) / len(self._power) if self._power else None
        util = sum(self._util) / len(self._util) if self._util else None
        if self._energy_start is not None and end is not None:
            energy: float | None = (end - self._energy_start) / 1000.0
        else:
            energy = power * elapsed if power is not None else None
        return Reading(power, energy, util)


class MemoryPeak:
    """Peak memory over a point: the CUDA caching allocator's peak reservation (the
    CUDA context's few hundred MiB come on top), or the process's peak RSS on the
    CPU (Linux lets a process reset its high-water mark through clear_refs)."""

    def __init__(self, device: torch.device) -> None:
        self.device = device

    def reset(self) -> None:
        if self.device.type == "cuda":
            # Blocks freed earlier stay reserved and the peak starts from what is
            # reserved now: without this, the bf16 weights that int8 replaced, or an
            # earlier point's larger KV cache, would count in this point's peak.
            torch.cuda.empty_cache()
            torch.cuda.reset_peak_memory_stats(self.device)
            return
        with contextlib.suppress(OSError):
            Path("/proc/self/clear_refs").write_text("5")

    def read(self) -> int | None:
        if self.device.type == "cuda":
            # Reserved, not allocated: what the caching allocator took from the GPU,
            # fragmentation included, is what decides whether the next size fits.
            return int(torch.cuda.max_memory_reserved(self.device))
        return proc_kib("VmHWM")
