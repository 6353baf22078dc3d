"""GPU model names, and each model's peak throughput for MFU and bandwidth use.

Plain Python, no Django: the runner needs it on the node, and `costs.gpu_models`
(which keys prices on the same names) imports it from here.

Agents report whatever NVML, ROCm or DCGM call a card ("NVIDIA H100 80GB HBM3",
"Tesla T4", "AMD Instinct MI300X"); `canonical_model()` maps that to a short name.
"""

import re
from dataclasses import dataclass

CANONICAL_MODELS: tuple[str, ...] = (
    "H200",
    "H100 SXM",
    "H100 PCIe",
    "H100 NVL",
    "A100 80GB",
    "A100 40GB",
    "L40S",
    "L4",
    "A10G",
    "A10",
    "T4",
    "V100",
    "MI300X",
)


def _rule(pattern: str, model: str) -> tuple[re.Pattern[str], str]:
    return re.compile(pattern, re.IGNORECASE), model


# \b keeps "L4" out of "L40S", "A10" out of "A10G"/"A100" and "H200" out of "GH200".
_RULES: tuple[tuple[re.Pattern[str], str], ...] = (
    _rule(r"\bH200\b", "H200"),
    _rule(r"\bH100\b.*\bNVL\b", "H100 NVL"),
    _rule(r"\bH100\b.*\bPCIe\b", "H100 PCIe"),
    # NVML names the SXM part after its memory ("NVIDIA H100 80GB HBM3"); a bare
    # "H100" could be any of the three, so it matches nothing.
    _rule(r"\bH100\b.*(\bSXM\d*\b|\bHBM3\b)", "H100 SXM"),
    _rule(r"\bA100\b.*\b80\s*GB\b", "A100 80GB"),
    _rule(r"\bA100\b.*\b40\s*GB\b", "A100 40GB"),
    _rule(r"\bL40S\b", "L40S"),
    _rule(r"\bL4\b", "L4"),
    _rule(r"\bA10G\b", "A10G"),
    _rule(r"\bA10\b", "A10"),
    _rule(r"\bT4\b", "T4"),
    _rule(r"\bV100S?\b", "V100"),
    _rule(r"\bMI300X\b", "MI300X"),
)
"""Ordered: the first match wins, so "A100-SXM4-80GB MIG 3g.40gb" is 80GB, not 40GB."""


def canonical_model(name: str) -> str | None:
    """Map a GPU name as NVML/ROCm/DCGM report it to a canonical model, or None
    when the name is unknown or too vague to price (a bare "NVIDIA A100")."""
    # Some exporters and node labels use underscores, which \b treats as letters.
    normalized = name.replace("_", " ")
    for pattern, model in _RULES:
        if pattern.search(normalized):
            return model
    return None


@dataclass(frozen=True)
class Peak:
    """Dense (no sparsity) peak TFLOP/s per dtype and peak memory bandwidth, from the
    vendor's datasheet. fp32 is the non-tensor-core figure: torch runs fp32 matmuls
    without TF32 unless told to."""

    fp32: float
    fp16: float
    bf16: float | None
    gb_per_s: float
    source: str

    def tflops(self, dtype: str) -> float | None:
        return {"fp32": self.fp32, "fp16": self.fp16, "bf16": self.bf16}.get(dtype)


_H100 = "NVIDIA H100 Tensor Core GPU datasheet (nvidia.com/en-us/data-center/h100), sparsity halved"
PEAKS: dict[str, Peak] = {
    "H100 SXM": Peak(67.0, 989.4, 989.4, 3350, _H100),
    "H100 PCIe": Peak(51.2, 756.5, 756.5, 2000, _H100),
    "H100 NVL": Peak(60.0, 835.5, 835.5, 3900, _H100),
    "H200": Peak(
        67.0, 989.4, 989.4, 4800, "NVIDIA H200 datasheet (nvidia.com/en-us/data-center/h200)"
    ),
    "A100 80GB": Peak(19.5, 312.0, 312.0, 2039, "NVIDIA A100 datasheet, SXM 80GB column"),
    "A100 40GB": Peak(19.5, 312.0, 312.0, 1555, "NVIDIA A100 datasheet, SXM 40GB column"),
    "L40S": Peak(91.6, 362.05, 362.05, 864, "NVIDIA L40S datasheet, sparsity halved"),
    "L4": Peak(30.3, 121.0, 121.0, 300, "NVIDIA L4 datasheet, sparsity halved"),
    "A10": Peak(31.2, 125.0, 125.0, 600, "NVIDIA A10 datasheet"),
    "T4": Peak(8.1, 65.0, None, 320, "NVIDIA T4 datasheet (no bf16)"),
    "V100": Peak(15.7, 125.0, None, 900, "NVIDIA V100 datasheet, SXM2 column (no bf16)"),
    "MI300X": Peak(163.4, 1307.4, 1307.4, 5300, "AMD Instinct MI300X datasheet, dense"),
}
"""A10G is left out: AWS publishes no tensor-core peak for it, and a guess would
make its MFU look precise when it is not."""


def peak_for(device_name: str) -> tuple[str | None, Peak | None]:
    """The canonical model and its peaks. A MIG slice has a fraction of the card's
    SMs and bandwidth, so it gets no peak rather than a wrong one."""
    model = canonical_model(device_name)
    if model is None or "MIG" in device_name.upper():
        return model, None
    return model, PEAKS.get(model)
