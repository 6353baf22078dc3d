"""What this node has and allows for profiling, and the client the worker reports through.

The node's configuration has the last word: these checks run on the agent, whatever
the server queued.
"""

import json
import os
import urllib.error
import urllib.request
from importlib import metadata
from typing import Any

from collectors.agent.client import Answer, _NoRedirects
from collectors.agent.config import Config
from vocab.sweeps import SpecError, SweepSpec, path_inside

_opener = urllib.request.build_opener(_NoRedirects)


class JobClient:
    """The agent's two profiling endpoints: JSON over urllib, with the agent's token."""

    def __init__(self, url: str, token: str, timeout: float = 10.0) -> None:
        self.base = url.rstrip("/") + "/api/v1/profiling/agent/"
        self.headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        self.timeout = timeout

    def post(self, path: str, body: dict[str, Any]) -> Answer:
        data = json.dumps(body).encode()
        request = urllib.request.Request(self.base + path, data, self.headers, method="POST")
        try:
            with _opener.open(request, timeout=self.timeout) as response:
                return Answer(response.status, response.read().decode(errors="replace"))
        except urllib.error.HTTPError as exc:
            return Answer(exc.code, exc.read().decode(errors="replace"))
        except (OSError, ValueError) as exc:  # refused, reset, timed out: no answer at all
            return Answer(0, f"{type(exc).__name__}: {exc}")


def torch_version() -> str | None:
    # From the package's metadata: importing torch would cost the agent seconds and GBs.
    try:
        return metadata.version("torch")
    except metadata.PackageNotFoundError:
        return None


def gpu_devices() -> list[dict[str, Any]]:
    """This node's GPUs through NVML, numbered as nvidia-smi numbers them; none without
    a driver (or without pynvml)."""
    try:
        from collectors.agent.nvml import NvmlSource, NvmlUnavailable

        nvml = NvmlSource()
    except (ImportError, NvmlUnavailable):
        return []
    gpus = nvml.inventory("")
    nvml.close()
    return [
        {
            "index": g["index"],
            "uuid": g["uuid"],
            "name": g["model"],
            "memory_bytes": g["memory_total_bytes"],
        }
        for g in gpus
    ]


def choose_gpus(devices: list[dict[str, Any]], wanted: list[str]) -> list[dict[str, Any]]:
    """The devices named by index or UUID, in the order given (the runner uses the
    first); all of them when none is named. ValueError names one this node lacks."""
    if not wanted:
        return devices
    chosen = []
    for name in wanted:
        found = [d for d in devices if name in (str(d["index"]), d["uuid"])]
        if not found:
            seen = ", ".join(f"{d['index']} ({d['uuid']})" for d in devices) or "none"
            raise ValueError(f"GPU {name!r} is not on this node (GPUs: {seen})")
        chosen.append(found[0])
    return chosen


def capped(spec: dict[str, Any], cap: int | None) -> dict[str, Any]:
    """The spec with its memory limit lowered to the node's cap (set to it if the job
    gave none)."""
    if cap is None:
        return spec
    asked = spec.get("memory_limit_bytes")
    return {**spec, "memory_limit_bytes": cap if asked is None else min(int(asked), cap)}


def path_allowed(path: str, allowed: list[str]) -> bool:
    """Inside an allowed file or folder, with no `..`, both as written and resolved (a
    symlink in an allowed folder must not lead out of it)."""
    if not path_inside(path, allowed):
        return False
    return path_inside(os.path.realpath(path), [os.path.realpath(a) for a in allowed])


def refusal(spec: Any, config: Config) -> str:
    """Why this node will not run the spec; "" when it will."""
    try:
        sweep = SweepSpec.from_dict(spec)
    except SpecError as exc:
        return f"invalid spec: {exc}"
    if sweep.preset and sweep.preset not in config.profiling_presets:
        allowed = ", ".join(config.profiling_presets) or "none"
        return f"preset {sweep.preset!r} is not allowed on this node (allowed: {allowed})"
    if sweep.model_path and not path_allowed(sweep.model_path, config.profiling_model_paths):
        return f"model path {sweep.model_path!r} is not inside a path this node allows"
    return ""
