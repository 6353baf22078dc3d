"""GPU telemetry from NVML (nvidia-ml-py): one GpuSample per GPU per interval.

Every field is read on its own: a GPU that does not support one (a GeForce
without ECC, a MIG slice without power readings) gets null for that field,
never 0, and the other fields are still read.
"""

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

import pynvml

logger = logging.getLogger(__name__)


class NvmlUnavailable(Exception):
    """No NVIDIA driver or no GPU: the message is the one line the agent prints."""


def _read(reader: Callable[..., Any], *args: Any) -> Any:
    try:
        return reader(*args)
    except pynvml.NVMLError:
        return None


def _scaled(value: Any, factor: float) -> float | None:
    return None if value is None else value * factor


def _throttle_reasons(handle: Any) -> int | None:
    # Renamed "clocks event reasons" in newer drivers; older ones only know the first name.
    for name in (
        "nvmlDeviceGetCurrentClocksEventReasons",
        "nvmlDeviceGetCurrentClocksThrottleReasons",
    ):
        reader = getattr(pynvml, name, None)
        if reader is not None:
            value = _read(reader, handle)
            if value is not None:
                return int(value)
    return None


def gpu_fields(handle: Any) -> dict[str, Any]:
    """The GpuSample measurements of one device, None where it has no answer."""
    util = _read(pynvml.nvmlDeviceGetUtilizationRates, handle)
    memory = _read(pynvml.nvmlDeviceGetMemoryInfo, handle)
    return {
        "util_gpu": None if util is None else float(util.gpu),
        "util_mem": None if util is None else float(util.memory),
        "mem_used_bytes": None if memory is None else int(memory.used),
        "mem_total_bytes": None if memory is None else int(memory.total),
        # NVML reports milliwatts and millijoules.
        "power_w": _scaled(_read(pynvml.nvmlDeviceGetPowerUsage, handle), 1e-3),
        "power_limit_w": _scaled(_read(pynvml.nvmlDeviceGetEnforcedPowerLimit, handle), 1e-3),
        "energy_j": _scaled(_read(pynvml.nvmlDeviceGetTotalEnergyConsumption, handle), 1e-3),
        "temp_c": _scaled(
            _read(pynvml.nvmlDeviceGetTemperature, handle, pynvml.NVML_TEMPERATURE_GPU),
            1.0,
        ),
        "sm_clock_mhz": _read(pynvml.nvmlDeviceGetClockInfo, handle, pynvml.NVML_CLOCK_SM),
        "mem_clock_mhz": _read(pynvml.nvmlDeviceGetClockInfo, handle, pynvml.NVML_CLOCK_MEM),
        "throttle_reasons": _throttle_reasons(handle),
        # NVML reports PCIe throughput in KB/s.
        "pcie_rx_bytes_s": _scaled(
            _read(pynvml.nvmlDeviceGetPcieThroughput, handle, pynvml.NVML_PCIE_UTIL_RX_BYTES),
            1024.0,
        ),
        "pcie_tx_bytes_s": _scaled(
            _read(pynvml.nvmlDeviceGetPcieThroughput, handle, pynvml.NVML_PCIE_UTIL_TX_BYTES),
            1024.0,
        ),
        "ecc_corrected": _ecc(handle, pynvml.NVML_MEMORY_ERROR_TYPE_CORRECTED),
        "ecc_uncorrected": _ecc(handle, pynvml.NVML_MEMORY_ERROR_TYPE_UNCORRECTED),
    }


def _ecc(handle: Any, kind: int) -> int | None:
    value = _read(pynvml.nvmlDeviceGetTotalEccErrors, handle, kind, pynvml.NVML_VOLATILE_ECC)
    return None if value is None else int(value)


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class NvmlSource:
    """The GPUs of this node, read through NVML."""

    def __init__(self) -> None:
        try:
            pynvml.nvmlInit()
            count = pynvml.nvmlDeviceGetCount()
        except pynvml.NVMLError as exc:
            raise NvmlUnavailable(f"NVML is not available ({exc}): no GPU telemetry") from None
        if count == 0:
            raise NvmlUnavailable("NVML found no GPU on this node: no GPU telemetry")
        self.handles = [pynvml.nvmlDeviceGetHandleByIndex(i) for i in range(count)]
        self.uuids = [_text(pynvml.nvmlDeviceGetUUID(h)) for h in self.handles]

    def inventory(self, node: str) -> list[dict[str, Any]]:
        gpus = []
        for index, (handle, uuid) in enumerate(zip(self.handles, self.uuids, strict=True)):
            memory = _read(pynvml.nvmlDeviceGetMemoryInfo, handle)
            name = _read(pynvml.nvmlDeviceGetName, handle)
            gpus.append(
                {
                    "uuid": uuid,
                    "node": node,
                    "index": index,
                    "model": "" if name is None else _text(name),
                    "memory_total_bytes": None if memory is None else int(memory.total),
                }
            )
        return gpus

    def samples(self, ts: datetime) -> list[dict[str, Any]]:
        return [
            {"gpu": uuid, "ts": ts, **gpu_fields(handle)}
            for handle, uuid in zip(self.handles, self.uuids, strict=True)
        ]

    def processes(self) -> dict[str, list[tuple[int, int | None]]] | None:
        """GPU uuid -> [(pid, used memory in bytes)], to match servers to their GPUs;
        None when a GPU's list cannot be read (then no match can be trusted)."""
        out: dict[str, list[tuple[int, int | None]]] = {}
        for handle, uuid in zip(self.handles, self.uuids, strict=True):
            running = _read(pynvml.nvmlDeviceGetComputeRunningProcesses, handle)
            if running is None:
                return None
            out[uuid] = [(int(p.pid), p.usedGpuMemory) for p in running]
        return out

    def close(self) -> None:
        _read(pynvml.nvmlShutdown)
