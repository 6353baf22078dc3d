"""A stand-in for the NVML driver at its outermost edge, pynvml's functions (no GPU here)."""

import pynvml


def _not_supported(*args):
    raise pynvml.NVMLError(pynvml.NVML_ERROR_NOT_SUPPORTED)


class FakeDriver:
    """Two devices: an H100 that reports everything, and a card without ECC,
    power or PCIe counters (as consumer cards and MIG slices are)."""

    def __init__(self, monkeypatch):
        self.devices = ["h100", "lite"]
        calls = {
            "nvmlInit": lambda: None,
            "nvmlShutdown": lambda: None,
            "nvmlDeviceGetCount": lambda: len(self.devices),
            "nvmlDeviceGetHandleByIndex": lambda i: self.devices[i],
            "nvmlDeviceGetUUID": lambda h: f"GPU-{h}-0000",
            "nvmlDeviceGetName": lambda h: "NVIDIA H100 80GB HBM3" if h == "h100" else "NVIDIA L4",
            "nvmlDeviceGetUtilizationRates": self.utilization,
            "nvmlDeviceGetMemoryInfo": self.memory,
            "nvmlDeviceGetPowerUsage": self.only_h100(612_345),
            "nvmlDeviceGetEnforcedPowerLimit": self.only_h100(700_000),
            "nvmlDeviceGetTotalEnergyConsumption": self.only_h100(123_456_789),
            "nvmlDeviceGetTemperature": lambda h, sensor: 71,
            "nvmlDeviceGetClockInfo": lambda h, clock: (
                1980 if clock == pynvml.NVML_CLOCK_SM else 2619
            ),
            "nvmlDeviceGetCurrentClocksEventReasons": lambda h: 0x4 if h == "h100" else 0,
            "nvmlDeviceGetPcieThroughput": self.only_h100(250_000),
            "nvmlDeviceGetTotalEccErrors": self.ecc,
            "nvmlDeviceGetComputeRunningProcesses": self.processes,
        }
        for name, function in calls.items():
            monkeypatch.setattr(pynvml, name, function)

    def only_h100(self, value):
        return lambda h, *args: value if h == "h100" else _not_supported()

    def utilization(self, handle):
        util = pynvml.c_nvmlUtilization_t()
        util.gpu, util.memory = (87, 41) if handle == "h100" else (0, 0)
        return util

    def memory(self, handle):
        info = pynvml.c_nvmlMemory_t()
        info.total = 85_520_809_984 if handle == "h100" else 24_152_899_584
        info.used = 76_000_000_000 if handle == "h100" else 0
        info.free = info.total - info.used
        return info

    def ecc(self, handle, kind, counter):
        if handle != "h100":
            _not_supported()
        return 2 if kind == pynvml.NVML_MEMORY_ERROR_TYPE_CORRECTED else 0

    def processes(self, handle):
        if handle != "h100":
            return []
        process = pynvml.c_nvmlProcessInfo_t()
        process.pid, process.usedGpuMemory = 4242, 75_000_000_000
        return [process]
