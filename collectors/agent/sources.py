"""What the agent reads each interval: NVML, inference servers' /metrics, or the
simulated fleet. Each source adds samples and inventory to a Collection."""

import http.client
import logging
import re
import socket
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol
from urllib.parse import urlsplit

from collectors.agent import procs, simulated
from collectors.agent.config import SourceSpec
from collectors.agent.exporters import EXPORTERS, ExporterReader
from collectors.agent.nvml import NvmlSource
from collectors.agent.scrape import EndpointConverter, SeriesCache, fetch
from vocab.servers import SERVERS

logger = logging.getLogger(__name__)


@dataclass
class Collection:
    gpu_samples: list[dict[str, Any]] = field(default_factory=list)
    inference_samples: list[dict[str, Any]] = field(default_factory=list)
    nodes: dict[str, dict[str, Any]] = field(default_factory=dict)
    gpus: dict[str, dict[str, Any]] = field(default_factory=dict)
    deployments: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)

    @property
    def size(self) -> int:
        return len(self.gpu_samples) + len(self.inference_samples)

    def inventory(self) -> dict[str, list[dict[str, Any]]]:
        return {
            "nodes": list(self.nodes.values()),
            "gpus": list(self.gpus.values()),
            "deployments": list(self.deployments.values()),
        }


def _node_entry(node: str) -> dict[str, Any]:
    # Looked up once: getfqdn() may ask DNS, and sources run every interval.
    return {"name": node, "hostname": socket.getfqdn()}


class Source(Protocol):
    def collect(self, ts: datetime, into: Collection) -> None: ...


class Page:
    """One /metrics URL, fetched each interval; an outage is logged once, not every time."""

    def __init__(self, url: str, timeout: float) -> None:
        self.url = url
        self.timeout = timeout
        self.failing = False

    def get(self) -> str | None:
        try:
            text = fetch(self.url, self.timeout)
        except (OSError, ValueError, http.client.HTTPException) as exc:
            if not self.failing:
                logger.warning("cannot scrape %s: %s", self.url, exc)
            self.failing = True
            return None
        if self.failing:
            logger.info("scraping %s again", self.url)
            self.failing = False
        return text


class NvmlCollector:
    def __init__(self, node: str) -> None:
        self.node = node
        self.node_entry = _node_entry(node)
        self.nvml = NvmlSource()  # raises NvmlUnavailable with the one line to print

    def collect(self, ts: datetime, into: Collection) -> None:
        into.nodes[self.node] = self.node_entry
        for gpu in self.nvml.inventory(self.node):
            into.gpus[gpu["uuid"]] = gpu
        into.gpu_samples.extend(self.nvml.samples(ts))


class ServerCollector:
    """One inference server's /metrics endpoint, as one deployment on this node."""

    def __init__(
        self, spec: SourceSpec, node: str, nvml: NvmlSource | None = None, timeout: float = 5.0
    ) -> None:
        self.spec = spec
        self.node = node
        self.node_entry = _node_entry(node)
        self.nvml = nvml
        self.timeout = timeout
        self._pid: int | None = None
        self._gpus_until = 0.0
        self._gpus_known: list[str] | None = None
        self._memory_known: dict[str, int] | None = None
        self.converter = EndpointConverter(SERVERS[spec.kind], spec.url, spec.select)
        self.model: str | None = None  # read from the first page: a server keeps its model
        self.page = Page(spec.url, timeout)

    def collect(self, ts: datetime, into: Collection) -> None:
        into.nodes[self.node] = self.node_entry
        text = self.page.get()
        if text is None:
            return
        if self.model is None:
            # Once: scanning every page for a name that is not there (trtllm-serve's
            # "undefined") would be a regex over the whole page each interval.
            self.model = _model_name(text)
        deployment: dict[str, Any] = {
            "name": self.spec.name,
            "node": self.node,
            "model": self.model,
            "server": self.spec.kind,
            "endpoint": self.spec.url,
        }
        gpus = self._gpus()
        if gpus is not None:
            deployment["gpus"] = gpus
        into.deployments[(self.node, self.spec.name)] = deployment
        sample = self.converter.update(text, ts)
        if sample is not None:
            if self._memory_known:
                sample["gpu_memory"] = dict(self._memory_known)
            into.inference_samples.append(
                {"deployment": self.spec.name, "node": self.node, **sample}
            )

    def _gpus(self) -> list[str] | None:
        """The GPUs this server's processes run on; None when that cannot be told.
        Also refreshes the bytes they hold on each GPU (`_memory_known`)."""
        url = urlsplit(self.spec.url)
        if self.nvml is None or url.hostname not in _LOCAL_HOSTS:
            return None
        # Scanning /proc is not free and servers rarely move: look once a minute.
        # Their memory is read at the same pass: an inference server allocates its
        # weights and KV cache at start and then holds them, so a minute-old figure
        # is as good as a fresh one.
        now = time.monotonic()
        if now < self._gpus_until:
            return self._gpus_known
        self._gpus_until = now + GPU_RECHECK_S
        if self._pid is None or not (procs.PROC / str(self._pid)).exists():
            self._pid = procs.listening_pid(url.port or (443 if url.scheme == "https" else 80))
        held = None if self._pid is None else procs.gpu_memory_of(self._pid, self.nvml.processes())
        self._gpus_known = None if held is None else sorted(held)
        # A GPU none of whose processes reports memory is left out, not sent as 0:
        # a 0 would give this deployment none of a shared GPU's cost.
        self._memory_known = (
            None if held is None else {u: used for u, used in held.items() if used is not None}
        )
        return self._gpus_known


class ExporterCollector:
    """A GPU exporter's /metrics page (dcgm-exporter, nvidia_gpu_exporter): GPU
    telemetry for a node where the agent cannot load NVML itself."""

    def __init__(self, spec: SourceSpec, node: str, timeout: float = 5.0) -> None:
        self.spec = spec
        self.reader = ExporterReader(EXPORTERS[spec.kind], spec.url)
        self.page = Page(spec.url, timeout)
        self._cache = SeriesCache()
        host = urlsplit(spec.url).hostname or ""
        # An exporter beside the agent reports the agent's node; one elsewhere, its own.
        self.node = node if host in _LOCAL_HOSTS else ""
        self.host = host

    def collect(self, ts: datetime, into: Collection) -> None:
        text = self.page.get()
        if text is None:
            return
        series = [
            (name, dict(labels), value) for _, _, name, labels, value in self._cache.samples(text)
        ]
        gpus, samples = self.reader.read(series, ts, self._node_of)
        for gpu in gpus:
            into.nodes.setdefault(gpu["node"], {"name": gpu["node"]})
            into.gpus[gpu["uuid"]] = gpu
        into.gpu_samples.extend(samples)

    def _node_of(self, labels: Any) -> str:
        return self.node or labels.get("Hostname") or self.host


GPU_RECHECK_S = 60.0
_LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1", socket.gethostname()}
_MODEL_LABEL = re.compile(r'\b(?:model_name|model)="([^"]*)"')


def _model_name(text: str) -> str:
    # trtllm-serve labels every series model_name="undefined": no name at all.
    for match in _MODEL_LABEL.finditer(text):
        if match.group(1) not in ("", "undefined"):
            return match.group(1)
    return ""


class SimulatedCollector:
    """The simulated fleet; its nodes say so, and every page labels them."""

    def __init__(self, interval_s: float) -> None:
        self.interval_s = interval_s
        self.last_t = float("-inf")

    def collect(self, ts: datetime, into: Collection) -> None:
        inventory = simulated.inventory()
        for node in inventory["nodes"]:
            into.nodes[node["name"]] = node
        for gpu in inventory["gpus"]:
            into.gpus[gpu["uuid"]] = gpu
        for dep in inventory["deployments"]:
            into.deployments[(dep["node"], dep["name"])] = dep
        # On the interval's boundary: simulated series line up across GPUs and runs.
        t = round(ts.timestamp() / self.interval_s) * self.interval_s
        if t <= self.last_t:
            return  # a tick that fell on a boundary already sampled
        self.last_t = t
        into.gpu_samples.extend(simulated.gpu_sample(g, t) for g in simulated.GPUS)
        into.inference_samples.extend(
            simulated.inference_sample(d, t, self.interval_s) for d in simulated.DEPLOYMENTS
        )


def utc_now() -> datetime:
    return datetime.now(UTC)
