"""The same fields, read with PromQL from a Prometheus server that already scrapes
dcgm-exporter and the inference servers (prometheus-api-client).

GPU fields come from dcgm-exporter's DCGM_FI_* series, one GPU per UUID label;
each inference server's series, grouped by (job, instance), go through the same
delta logic as a direct scrape.
"""

import logging
import math
from collections import defaultdict
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from prometheus_api_client import PrometheusConnect
from urllib3.util.retry import Retry

from collectors.agent.scrape import EndpointConverter, HistogramSeries, Snapshot, label_key
from collectors.agent.servers import SERVERS, Counter, ServerMap

logger = logging.getLogger(__name__)

# GpuSample field <- (dcgm-exporter metric, factor to the schema's unit).
DCGM_FIELDS: dict[str, tuple[str, float]] = {
    "util_gpu": ("DCGM_FI_DEV_GPU_UTIL", 1.0),
    "util_mem": ("DCGM_FI_DEV_MEM_COPY_UTIL", 1.0),
    "mem_used_bytes": ("DCGM_FI_DEV_FB_USED", 2.0**20),  # MiB
    "power_w": ("DCGM_FI_DEV_POWER_USAGE", 1.0),
    "energy_j": ("DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION", 1e-3),  # mJ
    "temp_c": ("DCGM_FI_DEV_GPU_TEMP", 1.0),
    "sm_clock_mhz": ("DCGM_FI_DEV_SM_CLOCK", 1.0),
    "mem_clock_mhz": ("DCGM_FI_DEV_MEM_CLOCK", 1.0),
    "pcie_rx_bytes_s": ("DCGM_FI_PROF_PCIE_RX_BYTES", 1.0),
    "pcie_tx_bytes_s": ("DCGM_FI_PROF_PCIE_TX_BYTES", 1.0),
    "ecc_corrected": ("DCGM_FI_DEV_ECC_SBE_VOL_TOTAL", 1.0),
    "ecc_uncorrected": ("DCGM_FI_DEV_ECC_DBE_VOL_TOTAL", 1.0),
}
_INTEGER_FIELDS = {
    "mem_used_bytes",
    "sm_clock_mhz",
    "mem_clock_mhz",
    "ecc_corrected",
    "ecc_uncorrected",
}
_FB_PARTS = ("DCGM_FI_DEV_FB_USED", "DCGM_FI_DEV_FB_FREE", "DCGM_FI_DEV_FB_RESERVED")
_PREFIXES = {"vllm": "vllm:", "sglang": "sglang:", "tgi": "tgi_", "triton": "nv_inference_"}
SERVER_QUERY = '{__name__=~"vllm:.+|sglang:.+|tgi_.+|nv_inference_.+"}'
GPU_QUERY = '{__name__=~"DCGM_FI_.+"}'

Series = tuple[str, dict[str, str], float]


def _series(result: Iterable[Mapping[str, Any]]) -> tuple[list[Series], float]:
    """The finite series of an instant-vector result, and their newest sample time."""
    out, newest = [], 0.0
    for item in result:
        labels = dict(item["metric"])
        name = labels.pop("__name__", "")
        value = float(item["value"][1])
        if math.isfinite(value):
            out.append((name, labels, value))
            newest = max(newest, float(item["value"][0]))
    return out, newest


def gpu_samples(series: list[Series], ts: datetime) -> tuple[list[dict], list[dict]]:
    """(inventory GPUs, GpuSamples) from DCGM series, one GPU per UUID label."""
    by_gpu: dict[str, dict[str, float]] = defaultdict(dict)
    labels_of: dict[str, dict[str, str]] = {}
    for name, labels, value in series:
        uuid = labels.get("UUID")
        if uuid:
            by_gpu[uuid][name] = value
            labels_of.setdefault(uuid, labels)
    gpus, samples = [], []
    for uuid, values in sorted(by_gpu.items()):
        labels = labels_of[uuid]
        node = labels.get("Hostname") or _host(labels.get("instance", ""))
        fb = [values.get(part) for part in _FB_PARTS]
        total = None if fb[0] is None or fb[1] is None else int(sum(v or 0 for v in fb) * 2**20)
        gpu: dict[str, Any] = {"uuid": uuid, "node": node, "model": labels.get("modelName", "")}
        if labels.get("gpu", "").isdigit():
            gpu["index"] = int(labels["gpu"])
        gpu["memory_total_bytes"] = total
        gpus.append(gpu)
        sample: dict[str, Any] = {"gpu": uuid, "ts": ts, "mem_total_bytes": total}
        for field, (metric, factor) in DCGM_FIELDS.items():
            if metric in values:
                value = values[metric] * factor
                sample[field] = round(value) if field in _INTEGER_FIELDS else value
        samples.append(sample)
    return gpus, samples


def _host(instance: str) -> str:
    return urlsplit(f"//{instance}").hostname or instance


def snapshot(series: list[Series], server: ServerMap) -> Snapshot:
    """A Snapshot from instant-vector series, as parse_snapshot makes from a page.

    PromQL results carry no TYPE lines: histograms are recognised by their
    _bucket series and counters by the server map (or a _total suffix).
    """
    counter_names = {n for s in server.fields.values() if isinstance(s, Counter) for n in s.names}
    families = {name[: -len("_bucket")] for name, _, _ in series if name.endswith("_bucket")}
    snap = Snapshot()
    for name, labels, value in series:
        labels = {k: v for k, v in labels.items() if k not in ("job", "instance")}
        family = next(
            (name[: -len(s)] for s in ("_bucket", "_sum", "_count") if name.endswith(s)), ""
        )
        if family in families:
            entry = snap.histograms.setdefault(family, {}).setdefault(
                label_key(labels, "le"), HistogramSeries({})
            )
            if name.endswith("_bucket"):
                entry.buckets[float(labels["le"])] = value
            elif name.endswith("_sum"):
                entry.total = value
        elif name.removesuffix("_total") in counter_names or name.endswith("_total"):
            snap.counters.setdefault(name.removesuffix("_total"), {})[label_key(labels)] = value
        else:
            snap.gauges.setdefault(name, []).append(value)
    return snap


class PrometheusCollector:
    """GPUs and inference servers as an existing Prometheus server sees them."""

    def __init__(self, url: str, interval_s: float) -> None:
        self.url = url
        self.interval_s = interval_s
        # One quick try per interval: a hung Prometheus must not stall the other sources.
        self.prom = PrometheusConnect(url=url, disable_ssl=False, retry=Retry(total=0), timeout=5)
        self.converters: dict[tuple[str, str], EndpointConverter] = {}
        self._failing = False

    def collect(self, ts: datetime, into: Any) -> None:
        try:
            gpu_series, _ = _series(self.prom.custom_query(GPU_QUERY))
            server_series, scraped_at = _series(self.prom.custom_query(SERVER_QUERY))
        except Exception as exc:  # the client raises several kinds; all mean "not now"
            if not self._failing:
                logger.warning("cannot query Prometheus at %s: %s", self.url, exc)
            self._failing = True
            return
        self._failing = False
        gpus, samples = gpu_samples(gpu_series, ts)
        for gpu in gpus:
            into.nodes.setdefault(gpu["node"], {"name": gpu["node"]})
            into.gpus[gpu["uuid"]] = gpu
        into.gpu_samples.extend(samples)
        # Counters move when Prometheus scrapes, not when we ask: deltas run from
        # its scrape time, so a slower scrape interval does not skew rates.
        when = datetime.fromtimestamp(scraped_at, UTC) if scraped_at else ts
        self._collect_servers(server_series, when, into)

    def _collect_servers(self, series: list[Series], ts: datetime, into: Any) -> None:
        grouped: dict[tuple[str, str], list[Series]] = defaultdict(list)
        for item in series:
            grouped[(item[1].get("job", ""), item[1].get("instance", ""))].append(item)
        for (job, instance), items in grouped.items():
            kind = next((k for k, p in _PREFIXES.items() if items[0][0].startswith(p)), None)
            if kind is None:
                continue
            node, name = _host(instance), f"{job}:{instance.rpartition(':')[2]}"
            converter = self.converters.get((job, instance))
            if converter is None:
                converter = EndpointConverter(SERVERS[kind], f"{self.url} {job}/{instance}")
                self.converters[(job, instance)] = converter
            into.nodes.setdefault(node, {"name": node})
            into.deployments[(node, name)] = {
                "name": name,
                "node": node,
                "server": kind,
                "model": next(
                    (lbl["model_name"] for _, lbl, _ in items if "model_name" in lbl), ""
                ),
                "endpoint": f"http://{instance}/metrics",
            }
            sample = converter.update_snapshot(snapshot(items, SERVERS[kind]), ts)
            if sample is not None:
                into.inference_samples.append({"deployment": name, "node": node, **sample})
