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
from collectors.agent.nvml import NvmlSource
from collectors.agent.scrape import EndpointConverter, fetch
from collectors.agent.servers import SERVERS

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


class Source(Protocol):
    def collect(self, ts: datetime, into: Collection) -> None: ...


class NvmlCollector:
    def __init__(self, node: str) -> None:
        self.node = node
        self.nvml = NvmlSource()  # raises NvmlUnavailable with the one line to print

    def collect(self, ts: datetime, into: Collection) -> None:
        into.nodes.setdefault(self.node, {"name": self.node, "hostname": socket.getfqdn()})
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
        self.nvml = nvml
        self.timeout = timeout
        self._pid: int | None = None
        self._next_lookup = 0.0
        self.converter = EndpointConverter(SERVERS[spec.kind], spec.url, spec.select)
        self.model = ""
        self._failing = False

    def collect(self, ts: datetime, into: Collection) -> None:
        into.nodes.setdefault(self.node, {"name": self.node, "hostname": socket.getfqdn()})
        try:
            text = fetch(self.spec.url, self.timeout)
        except (OSError, ValueError, http.client.HTTPException) as exc:
            if not self._failing:  # once per outage, not every interval
                logger.warning("cannot scrape %s: %s", self.spec.url, exc)
            self._failing = True
            return
        if self._failing:
            logger.info("scraping %s again", self.spec.url)
            self._failing = False
        self.model = self.model or _model_name(text)
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
            into.inference_samples.append(
                {"deployment": self.spec.name, "node": self.node, **sample}
            )

    def _gpus(self) -> list[str] | None:
        """The GPUs this server's processes run on; None when that cannot be told."""
        url = urlsplit(self.spec.url)
        if self.nvml is None or url.hostname not in _LOCAL_HOSTS:
            return None
        if self._pid is None or not (procs.PROC / str(self._pid)).exists():
            # Scanning /proc is not free: after a miss, look again a minute later.
            if time.monotonic() < self._next_lookup:
                return None
            self._pid = procs.listening_pid(url.port or (443 if url.scheme == "https" else 80))
            if self._pid is None:
                self._next_lookup = time.monotonic() + 60
                return None
        return procs.gpus_of(self._pid, self.nvml.processes())


_LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1", socket.gethostname()}
_MODEL_LABEL = re.compile(r'\b(?:model_name|model)="([^"]*)"')


def _model_name(text: str) -> str:
    match = _MODEL_LABEL.search(text)
    return match.group(1) if match else ""


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
