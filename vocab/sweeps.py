"""What one sweep asks for, validated in one place for the CLI, the agent and the server.

The spec travels as JSON from the dashboard through the agent to the runner, so
`SweepSpec.from_dict` is the single check: the server refuses a bad spec with
field-level errors before queueing it, and the runner refuses it again on the node.
"""

import itertools
import math
import re
from dataclasses import asdict, dataclass, field
from pathlib import PurePosixPath
from typing import Any

from vocab.presets import PRESETS

DTYPES = ("fp32", "fp16", "bf16")
QUANTS = ("none", "int8")
ATTENTIONS = ("auto", "flash", "efficient", "math")
DEVICES = ("auto", "cuda", "cpu")
MAX_POINTS = 256
MAX_LIST = 64  # values in one list
_DIGITS = re.compile(r"[0-9]{1,9}")
LIMITS = {
    "batch_sizes": (1, 4096),
    "prompt_lens": (1, 32768),
    # Two at least: the first generated token comes from prefill, the rest from decode steps.
    "gen_lens": (2, 8192),
}


def path_inside(path: str, allowed: list[str]) -> bool:
    """`path` is one of the `allowed` paths or inside one of them, with no `..` part."""
    candidate = PurePosixPath(path)
    if ".." in candidate.parts:
        return False
    roots = [PurePosixPath(a) for a in allowed]
    return any(candidate == root or root in candidate.parents for root in roots)


def setting_label(dtype: str, quant: str, attention: str, compiled: bool) -> str:
    """How a setting is named everywhere (table, pages, charts): "bf16 int8 flash compiled"."""
    parts = [dtype, *([quant] if quant != "none" else []), attention]
    return " ".join([*parts, "compiled"] if compiled else parts)


class SpecError(ValueError):
    """Carries [{"field", "message"}], the API's error shape."""

    def __init__(self, errors: list[dict[str, str]]) -> None:
        super().__init__("; ".join(f"{e['field']}: {e['message']}" for e in errors))
        self.errors = errors


@dataclass(frozen=True)
class Setting:
    """One point of the sweep."""

    batch_size: int
    prompt_len: int
    gen_len: int
    dtype: str
    quant: str
    attention: str
    compile: bool

    def label(self) -> str:
        return setting_label(self.dtype, self.quant, self.attention, self.compile)


@dataclass(frozen=True)
class SweepSpec:
    preset: str = ""
    model_path: str = ""
    device: str = "auto"
    batch_sizes: tuple[int, ...] = (1,)
    prompt_lens: tuple[int, ...] = (128,)
    gen_lens: tuple[int, ...] = (32,)
    dtypes: tuple[str, ...] = ("bf16",)
    quants: tuple[str, ...] = ("none",)
    attentions: tuple[str, ...] = ("auto",)
    compile: tuple[bool, ...] = (False,)
    warmup: int = 2
    repeats: int = 5
    # Caps what the run may allocate (GPU memory on CUDA, address space on CPU), so a
    # profile on a node that also serves cannot take the server's memory.
    memory_limit_bytes: int | None = None
    seed: int = 0
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    def settings(self) -> list[Setting]:
        """Points ordered so that one model build (dtype, quant, attention, compile)
        serves all the shapes after it, smallest first."""
        return [
            Setting(b, p, g, d, q, a, c)
            for d, q, a, c, p, g, b in itertools.product(
                self.dtypes,
                self.quants,
                self.attentions,
                self.compile,
                self.prompt_lens,
                self.gen_lens,
                self.batch_sizes,
            )
        ]

    @property
    def model_name(self) -> str:
        return self.preset or self.model_path

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("extra")
        for key, value in data.items():
            if isinstance(value, tuple):
                data[key] = list(value)
        return data

    @classmethod
    def from_dict(cls, data: Any) -> "SweepSpec":
        if not isinstance(data, dict):
            raise SpecError([{"field": "", "message": "Expected a JSON object."}])
        errors: list[dict[str, str]] = []

        def err(name: str, message: str) -> None:
            errors.append({"field": name, "message": message})

        known = set(cls.__dataclass_fields__) - {"extra"}
        for key in data:
            if key not in known:
                err(key, "Unknown setting.")
        preset = data.get("preset") or ""
        model_path = data.get("model_path") or ""
        if not isinstance(preset, str) or not isinstance(model_path, str):
            err("preset", "preset and model_path are strings.")
            preset, model_path = "", ""
        if bool(preset) == bool(model_path):
            err("preset", "Give exactly one of preset or model_path.")
        elif preset and preset not in PRESETS:
            err("preset", f"Unknown preset {preset!r}; one of {', '.join(PRESETS)}.")
        elif model_path and not model_path.startswith("/"):
            err("model_path", "Give an absolute path on the node.")
        device = data.get("device", "auto")
        if device not in DEVICES:
            err("device", f"One of {', '.join(DEVICES)}.")
        values: dict[str, Any] = {}
        for name, (low, high) in LIMITS.items():
            values[name] = _int_list(data.get(name, getattr(cls, name)), name, low, high, err)
        for name, allowed in (("dtypes", DTYPES), ("quants", QUANTS), ("attentions", ATTENTIONS)):
            values[name] = _choice_list(data.get(name, getattr(cls, name)), name, allowed, err)
        values["compile"] = _bool_list(data.get("compile", [False]), err)
        warmup = _int(data.get("warmup", 2), "warmup", 0, 20, err)
        if warmup == 0 and True in values["compile"]:
            # Compilation would land in the first timed repeat.
            err("warmup", "torch.compile needs at least one warm-up run.")
        repeats = _int(data.get("repeats", 5), "repeats", 1, 50, err)
        limit = data.get("memory_limit_bytes")
        if limit is not None:
            limit = _int(limit, "memory_limit_bytes", 2**20, 2**50, err)
        seed = _int(data.get("seed", 0), "seed", 0, 2**31 - 1, err)
        if errors:
            raise SpecError(errors)
        spec = cls(
            preset=preset,
            model_path=model_path,
            device=device,
            warmup=warmup,
            repeats=repeats,
            memory_limit_bytes=limit,
            seed=seed,
            **values,
        )
        # Counted from the list lengths: building the product of a hostile spec
        # first could take the server's memory.
        count = math.prod(
            len(v)
            for v in (
                spec.batch_sizes,
                spec.prompt_lens,
                spec.gen_lens,
                spec.dtypes,
                spec.quants,
                spec.attentions,
                spec.compile,
            )  # fmt: skip
        )
        if count > MAX_POINTS:
            raise SpecError([{"field": "", "message": f"{count} points; at most {MAX_POINTS}."}])
        return spec


Err = Any


def _int(value: Any, name: str, low: int, high: int, err: Err) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        err(name, "Expected a whole number.")
        return low
    if not low <= value <= high:
        err(name, f"Expected {low} to {high}, got {value}.")
    return value


def _as_list(value: Any) -> list[Any]:
    if isinstance(value, str):
        return [v.strip() for v in value.split(",") if v.strip()]
    if isinstance(value, list | tuple):
        return list(value)
    return [value]


def _int_list(value: Any, name: str, low: int, high: int, err: Err) -> tuple[int, ...]:
    items = _as_list(value)
    out: list[int] = []
    if len(items) > MAX_LIST:
        err(name, f"At most {MAX_LIST} values.")
        return ()
    for item in items:
        # ASCII digits only: str.isdigit() also takes "²", which int() refuses.
        if isinstance(item, str) and _DIGITS.fullmatch(item):
            item = int(item)
        if isinstance(item, bool) or not isinstance(item, int):
            err(name, f"{item!r} is not a whole number.")
        elif not low <= item <= high:
            err(name, f"{item} is outside {low} to {high}.")
        else:
            out.append(item)
    if not items:
        err(name, "Give at least one value.")
    return tuple(sorted(set(out)))


def _choice_list(value: Any, name: str, allowed: tuple[str, ...], err: Err) -> tuple[str, ...]:
    items = _as_list(value)
    if not items:
        err(name, "Give at least one value.")
    for item in items:
        if item not in allowed:
            err(name, f"{item!r} is not one of {', '.join(allowed)}.")
    return tuple(dict.fromkeys(i for i in items if i in allowed))


def _bool_list(value: Any, err: Err) -> tuple[bool, ...]:
    words = {"on": True, "off": False, "true": True, "false": False}
    out: list[bool] = []
    for item in _as_list(value):
        if isinstance(item, str) and item.lower() in words:
            item = words[item.lower()]
        if not isinstance(item, bool):
            err("compile", f"{item!r} is not on/off.")
        else:
            out.append(item)
    if not out:
        err("compile", "Give on, off or both.")
    return tuple(dict.fromkeys(out))
