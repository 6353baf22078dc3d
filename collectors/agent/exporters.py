"""GPU telemetry from exporters, for nodes where the agent cannot load NVML:
NVIDIA's dcgm-exporter and utkuozdemir/nvidia_gpu_exporter (`nvidia_smi_*`).

Data, not code paths: one ExporterMap per exporter, the same table as
docs/agent-metrics.md (a test keeps the two in step). The series come from a
direct scrape of the exporter's /metrics page or from a Prometheus query; both
become the same GpuSample fields here.
"""

import logging
import math
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from collectors.agent.fields import within

logger = logging.getLogger(__name__)

# (metric name, labels, value), as a page or a PromQL instant vector gives them.
Series = tuple[str, Mapping[str, str], float]


@dataclass(frozen=True)
class ExporterField:
    names: tuple[str, ...]  # the first one present is read
    factor: float = 1.0  # to the GpuSample field's unit
    integer: bool = False
    # "sum": the total of every listed series present (the first two required),
    # for the framebuffer's total, which DCGM splits into used, free and reserved.
    combine: Literal["first", "sum"] = "first"
    # Per-device on a MIG GPU (power, energy): each instance gets its share.
    apportioned: bool = False


@dataclass(frozen=True)
class ExporterMap:
    kind: str
    checked_against: str
    prefix: str
    uuid_label: str
    fields: Mapping[str, ExporterField]
    missing: Mapping[str, str] = field(default_factory=dict)
    # Inventory labels: the GPU's model name and index, on every series or on an info series.
    model_label: str = ""
    index_label: str = ""
    info_metric: str = ""
    index_metric: str = ""
    # nvidia_gpu_exporter drops NVML's "GPU-" prefix and lower-cases the uuid: put
    # back, the GPU is the same one NVML and dcgm-exporter name.
    uuid_prefix: str = ""


DCGM = ExporterMap(
    kind="dcgm",
    checked_against="dcgm-exporter 3.3 to 4.8 (default-counters.csv, dcp-metrics-included.csv)",
    prefix="DCGM_FI_",
    uuid_label="UUID",
    model_label="modelName",
    index_label="gpu",
    fields={
        "util_gpu": ExporterField(("DCGM_FI_DEV_GPU_UTIL",)),
        "util_mem": ExporterField(("DCGM_FI_DEV_MEM_COPY_UTIL",)),
        "mem_used_bytes": ExporterField(("DCGM_FI_DEV_FB_USED",), 2.0**20, integer=True),
        "mem_total_bytes": ExporterField(
            ("DCGM_FI_DEV_FB_USED", "DCGM_FI_DEV_FB_FREE", "DCGM_FI_DEV_FB_RESERVED"),
            2.0**20,
            integer=True,
            combine="sum",
        ),
        "power_w": ExporterField(("DCGM_FI_DEV_POWER_USAGE",), apportioned=True),
        "power_limit_w": ExporterField(("DCGM_FI_DEV_POWER_MGMT_LIMIT",), apportioned=True),
        "energy_j": ExporterField(
            ("DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION",), 1e-3, apportioned=True
        ),
        "temp_c": ExporterField(("DCGM_FI_DEV_GPU_TEMP",)),
        "sm_clock_mhz": ExporterField(("DCGM_FI_DEV_SM_CLOCK",), integer=True),
        "mem_clock_mhz": ExporterField(("DCGM_FI_DEV_MEM_CLOCK",), integer=True),
        "pcie_rx_bytes_s": ExporterField(("DCGM_FI_PROF_PCIE_RX_BYTES",)),
        "pcie_tx_bytes_s": ExporterField(("DCGM_FI_PROF_PCIE_TX_BYTES",)),
        "ecc_corrected": ExporterField(("DCGM_FI_DEV_ECC_SBE_VOL_TOTAL",), integer=True),
        "ecc_uncorrected": ExporterField(("DCGM_FI_DEV_ECC_DBE_VOL_TOTAL",), integer=True),
        "gr_engine_active": ExporterField(("DCGM_FI_PROF_GR_ENGINE_ACTIVE",)),
        "tensor_active": ExporterField(("DCGM_FI_PROF_PIPE_TENSOR_ACTIVE",)),
        "dram_active": ExporterField(("DCGM_FI_PROF_DRAM_ACTIVE",)),
    },
    missing={"throttle_reasons": "dcgm-exporter counts clock events, not NVML's bitmask"},
)

NVIDIA_SMI = ExporterMap(
    kind="nvidia_smi",
    checked_against="utkuozdemir/nvidia_gpu_exporter 1.2 to 1.3 (default query fields)",
    prefix="nvidia_smi_",
    uuid_label="uuid",
    uuid_prefix="GPU-",
    info_metric="nvidia_smi_gpu_info",
    index_metric="nvidia_smi_index",
    fields={
        "util_gpu": ExporterField(("nvidia_smi_utilization_gpu_ratio",), 100.0),
        "util_mem": ExporterField(("nvidia_smi_utilization_memory_ratio",), 100.0),
        "mem_used_bytes": ExporterField(("nvidia_smi_memory_used_bytes",), integer=True),
        "mem_total_bytes": ExporterField(("nvidia_smi_memory_total_bytes",), integer=True),
        "power_w": ExporterField(("nvidia_smi_power_draw_watts",)),
        "power_limit_w": ExporterField(
            ("nvidia_smi_enforced_power_limit_watts", "nvidia_smi_power_limit_watts")
        ),
        "temp_c": ExporterField(("nvidia_smi_temperature_gpu",)),
        "sm_clock_mhz": ExporterField(
            ("nvidia_smi_clocks_current_sm_clock_hz",), 1e-6, integer=True
        ),
        "mem_clock_mhz": ExporterField(
            ("nvidia_smi_clocks_current_memory_clock_hz",), 1e-6, integer=True
        ),
        "ecc_corrected": ExporterField(
            ("nvidia_smi_ecc_errors_corrected_volatile_total",), integer=True
        ),
        "ecc_uncorrected": ExporterField(
            ("nvidia_smi_ecc_errors_uncorrected_volatile_total",), integer=True
        ),
    },
    missing={
        "energy_j": "nvidia-smi's query fields have no energy counter",
        "pcie_rx_bytes_s": "nvidia-smi's query fields have no PCIe throughput",
        "pcie_tx_bytes_s": "nvidia-smi's query fields have no PCIe throughput",
        "throttle_reasons": "read as separate clocks_throttle_reasons series, not a bitmask",
    },
)

EXPORTERS: dict[str, ExporterMap] = {e.kind: e for e in (DCGM, NVIDIA_SMI)}

# DCGM's "blank" values: a field with no reading is exported as one of these
# (dcgm_structs.h: DCGM_INT32_BLANK, DCGM_INT64_BLANK, DCGM_FP64_BLANK and the
# NOT_FOUND, NOT_SUPPORTED, NOT_PERMISSIONED values just above each).
_INT32_BLANK = 0x7FFFFFF0
_FP64_BLANK = 140737488355328.0
# An int: the parser may give the exact integer, and 2**63 - 16 as a float is 2**63.
_INT64_BLANK = 0x7FFFFFFFFFFFFFF0


def is_blank(value: float) -> bool:
    """A DCGM sentinel, or no number at all: missing, never data."""
    return (
        not math.isfinite(value)
        or value >= _INT64_BLANK
        or _FP64_BLANK <= value <= _FP64_BLANK + 3
        or _INT32_BLANK <= value <= _INT32_BLANK + 3
    )


# The schema's bounded fields: a value past the bound would refuse the whole batch.
_RANGES = {
    "util_gpu": 100.0,
    "util_mem": 100.0,
    **dict.fromkeys(("gr_engine_active", "tensor_active", "dram_active"), 1.0),
}
# The mig_profile of a MIG GPU's slices that no instance holds.
FREE_SLICES = "unallocated"
_MIG_SLICES = re.compile(r"^(\d+)g\.")


def mig_fraction(profile: str, model: str, instances: int) -> float:
    """A MIG instance's share of its GPU: its compute slices of the GPU's seven
    (four on an A30); a profile that does not say, an equal share."""
    match = _MIG_SLICES.match(profile)
    if not match:
        return 1.0 / max(instances, 1)
    return min(1.0, int(match.group(1)) / (4 if "A30" in model else 7))


@dataclass
class _Device:
    uuid: str
    labels: Mapping[str, str]
    values: dict[str, float] = field(default_factory=dict)
    profile: str = ""


class ExporterReader:
    """Turns one exporter's series into inventory GPUs and GpuSamples.

    Keeps what it has already said (a field the exporter lacks, a blank value of a
    GPU's metric), to say it once.
    """

    def __init__(self, exporter: ExporterMap, where: str) -> None:
        self.exporter = exporter
        self.where = where
        self._reported: set[str] = set()
        self._blank: set[tuple[str, str]] = set()
        # Looked up once, not per GPU and scrape: (field, spec, names without _total).
        self._fields = [
            (name, spec, tuple(_base(n) for n in spec.names))
            for name, spec in exporter.fields.items()
        ]
        self.wanted = frozenset(
            [n for spec in exporter.fields.values() for n in spec.names]
            + [n for n in (exporter.info_metric, exporter.index_metric) if n]
        )

    def read(
        self, series: Iterable[Series], ts: Any, node_of: Callable[[Mapping[str, str]], str]
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        devices, parents, info = self._devices(series)
        self._report_missing(devices)
        uuid_label = self.exporter.uuid_label
        instances: dict[str, list[_Device]] = defaultdict(list)
        for device in devices.values():
            if device.profile:
                instances[device.labels.get(uuid_label, "")].append(device)
        fractions: dict[str, float] = {}
        for parent_uuid, parts in instances.items():
            model = {**info.get(parent_uuid, {}), **parts[0].labels}.get(
                self.exporter.model_label or "name", ""
            )
            for part in parts:
                fractions[part.uuid] = mig_fraction(part.profile, model, len(parts))
            free = 1.0 - sum(fractions[p.uuid] for p in parts)
            if free > 1e-6:
                # Slices no instance holds are still paid for: a device of their own,
                # with the GPU's power and energy share, and idle by construction.
                key = f"{parent_uuid}/mig-free"
                fractions[key] = free
                values = {**parts[0].values, **parents.get(parent_uuid, {})}
                devices[key] = _Device(key, parts[0].labels, values, FREE_SLICES)
        gpus, samples = [], []
        for device in sorted(devices.values(), key=lambda d: d.uuid):
            parent_uuid = device.labels.get(uuid_label, device.uuid)
            labels = {**info.get(parent_uuid, {}), **device.labels}
            model = labels.get(self.exporter.model_label or "name", "")
            values = dict(device.values)
            if device.profile:
                # Device-wide series (power, clocks) come once per physical GPU.
                for name, value in parents.get(parent_uuid, {}).items():
                    values.setdefault(name, value)
            fraction = fractions.get(device.uuid, 1.0)
            gpu, sample = self._gpu(device, labels, model, fraction, values, node_of(labels), ts)
            gpus.append(gpu)
            samples.append(sample)
        return gpus, samples

    def _devices(
        self, series: Iterable[Series]
    ) -> tuple[dict[str, _Device], dict[str, dict[str, float]], dict[str, dict[str, str]]]:
        exporter = self.exporter
        devices: dict[str, _Device] = {}
        parents: dict[str, dict[str, float]] = defaultdict(dict)
        info: dict[str, dict[str, str]] = defaultdict(dict)
        for name, labels, value in series:
            uuid = labels.get(exporter.uuid_label)
            if not uuid or not name.startswith(exporter.prefix):
                continue
            if exporter.uuid_prefix and not uuid.startswith(exporter.uuid_prefix):
                uuid = exporter.uuid_prefix + uuid
                labels = {**labels, exporter.uuid_label: uuid}
            if name == exporter.info_metric:
                info[uuid].update(labels)
                continue
            if name == exporter.index_metric:
                info[uuid]["index"] = str(int(value)) if math.isfinite(value) else ""
                continue
            if is_blank(value):
                if (uuid, name) not in self._blank:
                    self._blank.add((uuid, name))
                    logger.info("%s: %s of %s has no reading; left empty", self.where, name, uuid)
                continue
            # prometheus_client names a counter's sample NAME_total even where the
            # exporter printed NAME (dcgm-exporter's energy counter): names are
            # compared without the suffix.
            name = _base(name)
            instance = labels.get("GPU_I_ID", "")
            if instance:
                key = f"{uuid}/mig-{instance}"
                device = devices.setdefault(
                    key, _Device(key, labels, profile=labels.get("GPU_I_PROFILE", ""))
                )
            else:
                parents[uuid][name] = value
                device = devices.setdefault(uuid, _Device(uuid, labels))
            device.values[name] = value
        # A GPU split into MIG instances is billed through them, not as well as them.
        split = {d.labels.get(exporter.uuid_label) for d in devices.values() if d.profile}
        devices = {k: d for k, d in devices.items() if d.profile or k not in split}
        return devices, parents, info

    def _gpu(
        self,
        device: _Device,
        labels: Mapping[str, str],
        model: str,
        fraction: float,
        values: Mapping[str, float],
        node: str,
        ts: Any,
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        gpu: dict[str, Any] = {"uuid": device.uuid, "node": node, "model": model}
        index = labels.get(self.exporter.index_label or "index", "")
        if index.isdigit():
            gpu["index"] = int(index)
        sample: dict[str, Any] = {"gpu": device.uuid, "ts": ts}
        for name, spec, names in self._fields:
            if device.profile == FREE_SLICES and not spec.apportioned:
                continue  # only the GPU's power and energy reach slices nobody holds
            value = _field(spec, names, values)
            if value is None:
                continue
            if spec.apportioned and device.profile:
                value *= fraction
            sample[name] = round(value) if spec.integer else value
        if device.profile:
            gpu.update(mig_profile=device.profile, gpu_fraction=fraction)
            if "util_gpu" not in sample and "gr_engine_active" in sample:
                # MIG instances have no utilization; the graphics engine's activity
                # is the share of time the instance's engines were busy.
                sample["util_gpu"] = min(100.0, sample["gr_engine_active"] * 100)
                gpu["util_from"] = "graphics_engine"
        gpu["memory_total_bytes"] = sample.get("mem_total_bytes")
        for name, top in _RANGES.items():
            if name in sample:
                bounded = within(sample[name], top)
                if bounded is None:
                    del sample[name]  # outside the schema's range: a misread, not data
                else:
                    sample[name] = bounded
        return gpu, sample

    def _report_missing(self, devices: Mapping[str, _Device]) -> None:
        if not devices:
            return
        if not self._reported:
            for name, why in self.exporter.missing.items():
                logger.info("%s (%s): no %s: %s", self.where, self.exporter.kind, name, why)
            self._reported.add("")
        present = {name for device in devices.values() for name in device.values}
        mig = any(device.profile for device in devices.values())
        if mig and "DCGM_FI_PROF_GR_ENGINE_ACTIVE" in present:
            present.add("DCGM_FI_DEV_GPU_UTIL")  # on MIG, read from graphics-engine activity
        for name, spec in self.exporter.fields.items():
            if name in self._reported or any(_base(n) in present for n in spec.names):
                continue
            self._reported.add(name)
            logger.warning(
                "%s (%s): exports none of %s; %s will be empty",
                self.where,
                self.exporter.kind,
                ", ".join(spec.names),
                name,
            )


def _base(name: str) -> str:
    return name.removesuffix("_total")


def _field(
    spec: ExporterField, names: tuple[str, ...], values: Mapping[str, float]
) -> float | None:
    if spec.combine == "sum":
        if not all(n in values for n in names[:2]):
            return None
        return sum(values.get(n, 0.0) for n in names) * spec.factor
    name = next((n for n in names if n in values), None)
    return None if name is None else values[name] * spec.factor
