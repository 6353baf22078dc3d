"""The device a sweep runs on: which one, what it is (and its peaks), and a memory cap."""

import platform
import resource
from pathlib import Path
from typing import Any

import torch

from profiling.runner.gpus import Peak, peak_for
from profiling.runner.loaders import LoadError


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


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "CPU"


def limit_memory(device: torch.device, limit: int | None) -> None:
    """Cap what this process may allocate: a fraction of the GPU, or address space."""
    if not limit:
        return
    if device.type == "cuda":
        total = torch.cuda.get_device_properties(device).total_memory
        torch.cuda.set_per_process_memory_fraction(min(1.0, limit / total), device)
        return
    vm_size = 0
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmSize:"):
            vm_size = int(line.split()[1]) * 1024
    resource.setrlimit(resource.RLIMIT_AS, (vm_size + limit, resource.RLIM_INFINITY))
