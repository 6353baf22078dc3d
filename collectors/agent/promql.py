"""The same fields, read with PromQL from a Prometheus server that already scrapes
dcgm-exporter and the inference servers (prometheus-api-client).

GPU fields come from dcgm-exporter's DCGM_FI_* or nvidia_gpu_exporter's nvidia_smi_*
series (collectors/agent/exporters.py), one GPU per UUID label or MIG instance;
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

from collectors.agent.exporters import EXPORTERS, ExporterReader
from collectors.agent.scrape import EndpointConverter, HistogramSeries, Snapshot, label_key
from vocab.servers import SERVERS, ServerMap, counter_names

logger = logging.getLogger(__name__)

_PREFIXES = {
    "vllm": "vllm:",
    "sglang": "sglang:",
    "tgi": "tgi_",
    "triton": "nv_inference_",
    "trtllm": "trtllm_",
}
SERVER_QUERY = '{__name__=~"vllm:.+|sglang:.+|tgi_.+|nv_inference_.+|trtllm_.+"}'
GPU_QUERY = '{__name__=~"DCGM_FI_.+|nvidia_smi_.+"}'

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


def _gpu_node(labels: Mapping[str, str]) -> str:
    return labels.get("Hostname") or _host(labels.get("instance", ""))


def _host(instance: str) -> str:
    return urlsplit(f"//{instance}").hostname or instance


def snapshot(series: list[Series], server: ServerMap) -> Snapshot:
    """A Snapshot from instant-vector series, as parse_snapshot makes from a page.

    PromQL results carry no TYPE lines: histograms are recognised by their
    _bucket series and counters by the server map (or a _total suffix).
    """
    counters = counter_names(server)
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
        elif name.removesuffix("_total") in counters or name.endswith("_total"):
            snap.counters.setdefault(name.removesuffix("_total"), {})[label_key(labels)] = value
        else:
            snap.gauges.setdefault(name, {})[label_key(labels)] = value
    return snap


class PrometheusCollector:
    """GPUs and inference servers as an existing Prometheus server sees them."""

    def __init__(self, url: str, interval_s: float) -> None:
        self.url = url
        self.interval_s = interval_s
        # One quick try per interval: a hung Prometheus must not stall the other sources.
        self.prom = PrometheusConnect(url=url, disable_ssl=False, retry=Retry(total=0), timeout=5)
        self.converters: dict[tuple[str, str, str], EndpointConverter] = {}
        self.readers = [ExporterReader(e, f"{url} {e.kind}") for e in EXPORTERS.values()]
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
        for reader in self.readers:
            gpus, samples = reader.read(gpu_series, ts, _gpu_node)
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
            node = _host(instance)
            into.nodes.setdefault(node, {"name": node})
            for model, part in _per_model(kind, items).items():
                self._deployment(kind, job, instance, model, part, ts, into)

    def _deployment(
        self,
        kind: str,
        job: str,
        instance: str,
        model: str,
        items: list[Series],
        ts: datetime,
        into: Any,
    ) -> None:
        node, name = _host(instance), f"{job}:{instance.rpartition(':')[2]}"
        if model:
            name = f"{name}/{model}"
        converter = self.converters.get((job, instance, model))
        if converter is None:
            converter = EndpointConverter(SERVERS[kind], f"{self.url} {job}/{instance}")
            self.converters[(job, instance, model)] = converter
        named = (lbl.get("model_name", "undefined") for _, lbl, _ in items)
        into.deployments[(node, name)] = {
            "name": name,
            "node": node,
            "server": kind,
            "model": model or next((m for m in named if m != "undefined"), ""),
            "endpoint": f"http://{instance}/metrics",
        }
        sample = converter.update_snapshot(snapshot(items, SERVERS[kind]), ts)
        if sample is not None:
            into.inference_samples.append({"deployment": name, "node": node, **sample})


def _per_model(kind: str, items: list[Series]) -> dict[str, list[Series]]:
    """Triton serves several models per endpoint, and an ensemble counts each request
    once per model it passes through: one deployment per model. Others: one."""
    if kind != "triton":
        return {"": items}
    out: dict[str, list[Series]] = defaultdict(list)
    for item in items:
        out[item[1].get("model", "")].append(item)
    return out
