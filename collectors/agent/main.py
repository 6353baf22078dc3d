"""`inferscope-agent`: the node agent's entry point."""

import logging
import signal
import sys
from collections.abc import Sequence
from types import FrameType

from collectors.agent.client import IngestClient, Shipper
from collectors.agent.config import Config, ConfigError, load
from collectors.agent.exporters import EXPORTERS
from collectors.agent.nvml import NvmlUnavailable
from collectors.agent.profiling import JobClient, ProfilingWorker
from collectors.agent.runner import Runner
from collectors.agent.sources import (
    ExporterCollector,
    NvmlCollector,
    ServerCollector,
    SimulatedCollector,
    Source,
)
from collectors.agent.spool import Spool, SpoolBusy

logger = logging.getLogger("inferscope.agent")


def build_sources(config: Config) -> list[Source]:
    sources: list[Source] = []
    nvml = None
    for spec in config.sources:
        if spec.kind == "nvml":
            try:
                nvml = NvmlCollector(config.node)
                sources.append(nvml)
            except NvmlUnavailable as exc:
                logger.warning("%s", exc)  # and carry on with the other sources
        elif spec.kind == "simulated":
            sources.append(SimulatedCollector(config.interval_s))
        elif spec.kind == "prometheus":
            from collectors.agent.promql import PrometheusCollector

            sources.append(PrometheusCollector(spec.url, config.interval_s))
        elif spec.kind in EXPORTERS:
            sources.append(ExporterCollector(spec, config.node))
        else:
            sources.append(ServerCollector(spec, config.node))
    for source in sources:
        if isinstance(source, ServerCollector) and nvml is not None:
            source.nvml = nvml.nvml  # to tell which GPUs each local server uses
    if nvml is not None:
        # An exporter on this node reports the GPUs NVML does (on MIG, as instances
        # beside their GPUs): both would bill them twice.
        for source in [s for s in sources if isinstance(s, ExporterCollector) and s.node]:
            logger.warning(
                "%s reports this node's GPUs, which NVML already reads; not scraped",
                source.spec.url,
            )
            sources.remove(source)
    return sources


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    try:
        config = load(argv)
        sources = build_sources(config)
    except ConfigError as exc:
        print(f"inferscope-agent: {exc}", file=sys.stderr)  # noqa: T201
        return 2
    if not sources:
        print("inferscope-agent: no source could be started", file=sys.stderr)  # noqa: T201
        return 1
    shipper = None
    if not config.dry_run:
        try:
            spool = Spool(config.spool_dir, config.spool_max_bytes)
        except (SpoolBusy, OSError) as exc:
            print(f"inferscope-agent: {exc}", file=sys.stderr)  # noqa: T201
            return 1
        shipper = Shipper(IngestClient(config.server_url, config.token), spool)
    profiling = None
    if config.profiling_enabled and not (config.dry_run or config.once):
        profiling = ProfilingWorker(config, JobClient(config.server_url, config.token))
    runner = Runner(config, sources, shipper, out=sys.stdout, profiling=profiling)

    def stop(signum: int, frame: FrameType | None) -> None:
        runner.stop.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    if config.once:
        if not runner.once():
            print("inferscope-agent: no source produced a sample", file=sys.stderr)  # noqa: T201
            return 1
    else:
        runner.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
