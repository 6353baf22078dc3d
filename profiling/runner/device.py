"""The device a sweep runs on: which one, what it is (and its peaks), and a memory cap."""

import platform
import resource
from pathlib import Path
from typing import Any

import torch

from profiling.runner.loaders import LoadError
from vocab.gpus import Peak, peak_for


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise LoadError("--device cuda: torch sees no CUDA device on this machine")
    return torch.device(name)


def describe_device(device: torch.device) -> dict[str, Any]:
    info: dict[str, Any] = {"type": device.type, "torch": torch.__version__}
    if device.type == "cuda":
        props = torch.cuda.get_device_properties(device)
        model, peak = peak_for(props.name)
        info.update(
            name=props.name,
            gpu_model=model or "",
            memory_bytes=int(props.total_memory),
            cuda=torch.version.cuda,
            peak=_peak_dict(peak),
        )
    else:
        info.update(name=_cpu_name(), gpu_model="", threads=torch.get_num_threads(), peak=None)
    return info


def _peak_dict(peak: Peak | None) -> dict[str, Any] | None:
    if peak is None:
        return None
    return {
        "tflops": {"fp32": peak.fp32, "fp16": peak.fp16, "bf16": peak.bf16},
        "gb_per_s": peak.gb_per_s,
        "source": peak.source,
    }


def proc_field(path: str, key: str) -> str | None:
    """The value of `key:` in a Linux /proc file such as /proc/self/status; None off Linux."""
    try:
        for line in Path(path).read_text().splitlines():
            name, sep, value = line.partition(":")
            if sep and name.strip() == key:
                return value.strip()
    except OSError:
        pass
    return None


def proc_kib(key: str) -> int | None:
    """A "1234 kB" field of /proc/self/status, in bytes."""
    value = proc_field("/proc/self/status", key)
    return int(value.split()[0]) * 1024 if value else None


def _cpu_name() -> str:
    return proc_field("/proc/cpuinfo", "model name") or platform.processor() or "CPU"


def limit_memory(device: torch.device, limit: int | None) -> None:
    """Cap what this process may allocate: a fraction of the GPU, or address space."""
    if not limit:
        return
    if device.type == "cuda":
        # The fraction setter wants an index: a bare "cuda" device raises ValueError.
        index = device.index if device.index is not None else torch.cuda.current_device()
        total = torch.cuda.get_device_properties(index).total_memory
        torch.cuda.set_per_process_memory_fraction(min(1.0, limit / total), index)
        return
    vm_size = proc_kib("VmSize") or 0
    resource.setrlimit(resource.RLIMIT_AS, (vm_size + limit, resource.RLIM_INFINITY))
