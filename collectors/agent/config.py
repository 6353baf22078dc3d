"""Agent configuration: defaults < TOML file < environment < command-line flags."""

import argparse
import os
import re
import socket
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from collectors.agent.exporters import EXPORTERS
from vocab.presets import PRESETS
from vocab.servers import SERVERS

SOURCE_KINDS = ("nvml", "simulated", "prometheus", *SERVERS, *EXPORTERS)
MAX_BATCH_SAMPLES = 10_000  # the ingest API's default INGEST_MAX_SAMPLES
_SOURCE = re.compile(r"^(?P<kind>[a-z_]+)(?::(?P<name>[^=]+))?(?:=(?P<url>.+))?$")
_DURATION = re.compile(r"^(\d+(?:\.\d+)?)(s|m|h|d)?$")
_SIZE = re.compile(r"^(\d+(?:\.\d+)?)\s*([KMGT]?)(?:i?B)?$", re.IGNORECASE)
# A GPU as nvidia-smi names it: its index, or its UUID.
_GPU = re.compile(r"^(\d+|GPU-[0-9A-Za-z-]+)$")
# The server's bounds for a node's profiling time limit (profiling.constants).
PROFILING_MIN_TIME_S = 60.0
PROFILING_MAX_TIME_S = 6 * 3600.0
# The runner's bounds for a sweep's memory limit (vocab.sweeps).
PROFILING_MIN_MEMORY = 2**20
PROFILING_MAX_MEMORY = 2**50


class ConfigError(Exception):
    """A bad setting; the message is the one line the agent prints before exiting."""


@dataclass(frozen=True)
class SourceSpec:
    """`KIND[:NAME][=URL[#label=value,...]]`, e.g. `vllm:chat-8b=http://127.0.0.1:8000/metrics`."""

    kind: str
    url: str = ""
    name: str = ""  # the deployment's name; defaults to host:port of the URL
    select: dict[str, str] = field(default_factory=dict)

    @classmethod
    def parse(cls, text: str) -> "SourceSpec":
        match = _SOURCE.match(text.strip())
        if not match or match["kind"] not in SOURCE_KINDS:
            kinds = ", ".join(SOURCE_KINDS)
            raise ConfigError(f"source {text!r}: expected KIND[:NAME]=URL with KIND one of {kinds}")
        kind, url = match["kind"], match["url"] or ""
        if kind in SERVERS or kind in EXPORTERS or kind == "prometheus":
            if not url.startswith(("http://", "https://")):
                raise ConfigError(f"source {text!r}: {kind} needs an http(s) URL")
        elif url:
            raise ConfigError(f"source {text!r}: {kind} takes no URL")
        url, _, fragment = url.partition("#")
        select = {}
        for pair in filter(None, fragment.split(",")):
            key, sep, value = pair.partition("=")
            if not sep:
                raise ConfigError(f"source {text!r}: label selector {pair!r} is not label=value")
            select[key.strip()] = value.strip()
        name = match["name"] or (urlsplit(url).netloc if url else kind)
        return cls(kind, url, name, select)


@dataclass
class Config:
    server_url: str = "http://127.0.0.1:8000"
    token: str = ""
    node: str = field(default_factory=socket.gethostname)
    interval_s: float = 10.0
    sources: list[SourceSpec] = field(default_factory=list)
    spool_dir: Path = field(default_factory=lambda: default_spool_dir())
    spool_max_bytes: int = 256 * 2**20
    batch_max_samples: int = 5000
    batch_max_age_s: float = 30.0
    backfill_s: float = 0.0
    once: bool = False
    dry_run: bool = False
    # Profiling jobs: nothing is run unless a preset or a model path is allowed.
    profiling_presets: list[str] = field(default_factory=list)
    profiling_model_paths: list[str] = field(default_factory=list)
    profiling_max_time_s: float = 1800.0
    profiling_poll_s: float = 15.0
    # The node's cap on what a sweep may allocate, whatever the job asks; None: the job's.
    profiling_memory_limit_bytes: int | None = None
    # The GPUs a sweep may use (indices or UUIDs); empty: all the agent sees.
    profiling_gpus: list[str] = field(default_factory=list)

    @property
    def profiling_enabled(self) -> bool:
        return bool(self.profiling_presets or self.profiling_model_paths)


def default_spool_dir() -> Path:
    """Where a service keeps state: /var/lib for root, the XDG state folder otherwise."""
    if os.geteuid() == 0:
        return Path("/var/lib/inferscope-agent/spool")
    state = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(state) / "inferscope-agent" / "spool"


def duration(text: str) -> float:
    match = _DURATION.match(str(text).strip())
    if not match:
        raise ConfigError(f"{text!r} is not a duration such as 10s, 5m or 24h")
    unit = {"s": 1, "m": 60, "h": 3600, "d": 86400}[match.group(2) or "s"]
    return float(match.group(1)) * unit


def size(value: Any) -> int:
    """Bytes from a number of bytes or "20GiB", "512M", "1.5T" (binary units either way)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    match = _SIZE.match(str(value).strip())
    if not match:
        raise ConfigError(f"{value!r} is not a size such as 512MiB or 20GiB")
    power = " KMGT".index(match.group(2).upper() or " ")
    return int(float(match.group(1)) * 1024**power)


def gpus(value: Any) -> list[str]:
    """GPU indices or UUIDs: a list (TOML), one number, or one string split on commas."""
    items = value if isinstance(value, list) else [value]
    chosen = _as_words([str(v) for v in items])
    for gpu in chosen:
        if not _GPU.match(gpu):
            raise ConfigError(f"profiling GPU {gpu!r} is not a GPU index or UUID (GPU-...)")
    return list(dict.fromkeys(chosen))


def _from_mapping(config: Config, values: dict[str, Any], origin: str) -> None:
    readers: dict[str, Any] = {
        "server_url": str,
        "token": str,
        "token_file": lambda v: ("token", _read_token(Path(v))),
        "node": str,
        "interval": lambda v: ("interval_s", duration(v)),
        "spool_dir": lambda v: ("spool_dir", Path(v)),
        "spool_max_bytes": int,
        "batch_max_samples": int,
        "batch_max_age": lambda v: ("batch_max_age_s", duration(v)),
        "backfill": lambda v: ("backfill_s", duration(v)),
        "sources": lambda v: ("sources", [SourceSpec.parse(s) for s in _as_list(v)]),
        "profiling_presets": lambda v: ("profiling_presets", _as_words(v)),
        "profiling_model_paths": lambda v: ("profiling_model_paths", _as_paths(v)),
        "profiling_max_time": lambda v: ("profiling_max_time_s", duration(v)),
        "profiling_poll": lambda v: ("profiling_poll_s", duration(v)),
        "profiling_memory_limit": lambda v: ("profiling_memory_limit_bytes", size(v)),
        "profiling_gpu": lambda v: ("profiling_gpus", gpus(v)),
    }
    for key, raw in values.items():
        if raw in (None, ""):
            continue
        reader = readers.get(key)
        if reader is None:
            raise ConfigError(f"{origin}: unknown setting {key!r}")
        try:
            result = reader(raw)
        except ValueError:
            raise ConfigError(f"{origin}: {key} = {raw!r} is not valid") from None
        name, value = result if isinstance(result, tuple) else (key, result)
        setattr(config, name, value)


def _read_token(path: Path) -> str:
    try:
        return path.read_text().strip()
    except OSError as exc:
        raise ConfigError(f"token file {path}: {exc.strerror or exc}") from None


def _as_list(value: Any) -> list[str]:
    # Whitespace, not commas, separates sources in one string: a label selector
    # (#model=a,version=1) has commas of its own.
    if isinstance(value, str):
        return value.split()
    return [str(v) for v in value]


def _as_words(value: Any) -> list[str]:
    """A list from TOML or repeated flags; one string (env, `--profiling-preset a,b`)
    splits on commas and whitespace."""
    items = [value] if isinstance(value, str) else [str(v) for v in value]
    return [word for item in items for word in re.split(r"[\s,]+", item) if word]


def _as_paths(value: Any) -> list[str]:
    # Only one string (the environment) is split: a path in a list may hold a space.
    return _as_words(value) if isinstance(value, str) else [str(v) for v in value]


ENVIRONMENT = {
    "server_url": "INFERSCOPE_URL",
    "token": "INFERSCOPE_TOKEN",
    "node": "INFERSCOPE_NODE",
    "interval": "INFERSCOPE_INTERVAL",
    "sources": "INFERSCOPE_SOURCES",
    "spool_dir": "INFERSCOPE_SPOOL_DIR",
    "spool_max_bytes": "INFERSCOPE_SPOOL_MAX_BYTES",
    "profiling_presets": "INFERSCOPE_PROFILING_PRESETS",
    "profiling_model_paths": "INFERSCOPE_PROFILING_MODEL_PATHS",
    "profiling_max_time": "INFERSCOPE_PROFILING_MAX_TIME",
    "profiling_poll": "INFERSCOPE_PROFILING_POLL",
    "profiling_memory_limit": "INFERSCOPE_PROFILING_MEMORY_LIMIT",
    "profiling_gpu": "INFERSCOPE_PROFILING_GPU",
}


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="inferscope-agent",
        description="Collect GPU and inference-server metrics and send them to Inferscope.",
    )
    p.add_argument("--config", type=Path, help="a TOML file with the settings below")
    p.add_argument("--server-url", help="Inferscope's address, e.g. https://inferscope.example")
    p.add_argument("--token", help="this agent's token (or INFERSCOPE_TOKEN / token_file)")
    p.add_argument("--token-file", type=Path, help="read the token from this file")
    p.add_argument("--node", help="this node's name (default: the host name)")
    p.add_argument("--interval", help="collection interval, e.g. 10s")
    p.add_argument(
        "--source",
        action="append",
        dest="sources",
        help="nvml | simulated | prometheus=URL | dcgm=URL | nvidia_smi=URL"
        " | KIND[:NAME]=URL[#label=value] with KIND vllm, tgi, triton, sglang, trtllm",
    )
    p.add_argument("--batch-max-samples", help="send a batch once it holds this many samples")
    p.add_argument("--batch-max-age", help="send a batch once its oldest sample is this old")
    p.add_argument("--spool-dir", help="where unsent batches wait")
    p.add_argument("--spool-max-bytes", help="the spool's budget; the oldest batches go beyond it")
    p.add_argument("--backfill", help="with the simulated source: first generate this much history")
    p.add_argument(
        "--profiling-preset",
        action="append",
        dest="profiling_presets",
        help=f"run queued profiling jobs of this preset ({', '.join(PRESETS)}); repeat or a,b",
    )
    p.add_argument(
        "--profiling-model-path",
        action="append",
        dest="profiling_model_paths",
        help="run queued profiling jobs of models in this absolute file or folder; repeatable",
    )
    p.add_argument("--profiling-max-time", help="longest profiling job allowed (default 30m)")
    p.add_argument("--profiling-poll", help="how often to ask for a profiling job (default 15s)")
    p.add_argument(
        "--profiling-memory-limit",
        help="most a profiling job may allocate, e.g. 20GiB, whatever the job asks (default: "
        "the job's own limit, if any)",
    )
    p.add_argument(
        "--profiling-gpu",
        action="append",
        dest="profiling_gpus",
        help="the GPU(s) profiling jobs may use: index or UUID; repeat or 0,1 (default: all)",
    )
    p.add_argument("--once", action="store_true", help="collect one interval, then exit")
    p.add_argument("--dry-run", action="store_true", help="print the batch instead of sending it")
    return p


def load(argv: Sequence[str] | None = None) -> Config:
    args = parser().parse_args(argv)
    config = Config()
    path = args.config or (
        Path(os.environ["INFERSCOPE_AGENT_CONFIG"])
        if os.environ.get("INFERSCOPE_AGENT_CONFIG")
        else None
    )
    if path is not None:
        try:
            _from_mapping(config, tomllib.loads(path.read_text()), str(path))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"{path}: {exc}") from None
    _from_mapping(config, {k: os.environ.get(v) for k, v in ENVIRONMENT.items()}, "environment")
    token_file = args.token_file or os.environ.get("INFERSCOPE_TOKEN_FILE")
    if token_file and not args.token:
        config.token = _read_token(Path(token_file))
    flags = {
        "server_url": args.server_url,
        "token": args.token,
        "node": args.node,
        "interval": args.interval,
        "sources": args.sources,
        "spool_dir": args.spool_dir,
        "spool_max_bytes": args.spool_max_bytes,
        "batch_max_samples": args.batch_max_samples,
        "batch_max_age": args.batch_max_age,
        "backfill": args.backfill,
        "profiling_presets": args.profiling_presets,
        "profiling_model_paths": args.profiling_model_paths,
        "profiling_max_time": args.profiling_max_time,
        "profiling_poll": args.profiling_poll,
        "profiling_memory_limit": args.profiling_memory_limit,
        "profiling_gpu": args.profiling_gpus,
    }
    _from_mapping(config, flags, "command line")
    config.once, config.dry_run = args.once, args.dry_run
    _check(config)
    return config


def _check(config: Config) -> None:
    if not config.sources:
        raise ConfigError("no source: give --source nvml, --source simulated or --source vllm=URL")
    if config.interval_s <= 0:
        raise ConfigError("the interval must be more than 0 s")
    if not config.dry_run and not config.token:
        raise ConfigError("no token: set --token, --token-file or INFERSCOPE_TOKEN")
    if config.spool_max_bytes < 1_000_000:
        raise ConfigError("the spool needs at least 1000000 bytes")
    if not 1 <= config.batch_max_samples <= MAX_BATCH_SAMPLES:
        raise ConfigError(f"a batch holds 1 to {MAX_BATCH_SAMPLES} samples (the server's limit)")
    if config.backfill_s and not any(s.kind == "simulated" for s in config.sources):
        raise ConfigError("--backfill only makes sense with the simulated source")
    _check_profiling(config)


def _check_profiling(config: Config) -> None:
    for name in config.profiling_presets:
        if name not in PRESETS:
            raise ConfigError(f"profiling preset {name!r} is unknown; one of {', '.join(PRESETS)}")
    for path in config.profiling_model_paths:
        if not path.startswith("/"):
            raise ConfigError(f"profiling model path {path!r} is not absolute")
    if not PROFILING_MIN_TIME_S <= config.profiling_max_time_s <= PROFILING_MAX_TIME_S:
        raise ConfigError("the profiling time limit must be 1m to 6h")
    if config.profiling_poll_s <= 0:
        raise ConfigError("the profiling poll interval must be more than 0 s")
    limit = config.profiling_memory_limit_bytes
    if limit is not None and not PROFILING_MIN_MEMORY <= limit <= PROFILING_MAX_MEMORY:
        raise ConfigError("the profiling memory limit must be 1MiB to 1PiB")
