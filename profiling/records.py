"""The JSON a profiling job and a node's capability store, as typed records: the
device a run used and the model it ran (as the runner reported them), the sweep's
spec as pages read it, and what a node's agent allows.

The API checks an agent's report field by field (profiling/serializers.py); the
services store these records through `dump` once more, so whatever writes a job
(API, CLI import, a test, the shell) stores one shape. Pages decode them with
`load`: old rows take the defaults, a row that cannot be read is None (logged).
"""

from typing import Annotated, Literal

from msgspec import Meta, Struct, field

Count = Annotated[int, Meta(ge=0, le=2**62)]
Figure = Annotated[float, Meta(ge=0, le=1e18)]

__all__ = ["Capability", "CapabilityDevice", "DeviceRecord", "ModelRecord", "SpecSummary"]


class PeakTflops(Struct, frozen=True, omit_defaults=True):
    fp32: Figure | None = None
    fp16: Figure | None = None
    bf16: Figure | None = None


class Peak(Struct, frozen=True, omit_defaults=True):
    tflops: PeakTflops | None = None
    gb_per_s: Figure | None = None
    source: str = ""


# omit_defaults: the stored object keeps only what the runner reported.
class DeviceRecord(Struct, frozen=True, omit_defaults=True):
    """The device a run used (profiling.runner.device.describe_device)."""

    type: Literal["cuda", "cpu"] | None = None  # None: not known yet (a queued job)
    name: str = ""
    gpu_model: str = ""
    memory_bytes: Count | None = None
    torch: str = ""
    cuda: str | None = None
    threads: Count | None = None
    peak: Peak | None = None


class ModelRecord(Struct, frozen=True, omit_defaults=True):
    name: str = ""
    kind: Literal["preset", "torchscript", "huggingface"] | None = None
    params: Count | None = None
    layers: Count | None = None
    d_model: Count | None = None
    heads: Count | None = None
    kv_heads: Count | None = None
    d_ff: Count | None = None
    vocab: Count | None = None
    source: str = ""


class SpecSummary(Struct, frozen=True):
    """What pages show of a stored sweep (vocab.sweeps.SweepSpec.to_dict).
    Lenient on purpose: the runner's spec, not this, decides what may run."""

    preset: str = ""
    model_path: str = ""
    device: str = ""
    batch_sizes: list[int] = field(default_factory=list)
    prompt_lens: list[int] = field(default_factory=list)
    gen_lens: list[int] = field(default_factory=list)
    dtypes: list[str] = field(default_factory=list)
    quants: list[str] = field(default_factory=list)
    attentions: list[str] = field(default_factory=list)
    repeats: int | None = None


class CapabilityDevice(Struct, frozen=True, omit_defaults=True):
    index: Annotated[int, Meta(ge=0, le=1024)] | None = None
    name: str = ""
    memory_bytes: Count | None = None
    uuid: str = ""


class Capability(Struct, frozen=True):
    """What one node's agent allows, read from ProfilingCapability's three columns."""

    presets: list[str] = field(default_factory=list)
    model_paths: list[str] = field(default_factory=list)
    devices: list[CapabilityDevice] = field(default_factory=list)

    @property
    def gpus(self) -> list[tuple[str, int | None]]:
        """(name, memory bytes or None: not reported) per device."""
        return [(d.name or "GPU", d.memory_bytes or None) for d in self.devices]
