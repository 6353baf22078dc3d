"""Run a sweep: for each setting, warm up, time prefill and decode over several
repeats, and turn the times into throughput, MFU, bandwidth use, energy and cost."""

import contextlib
import gc
import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch.nn.attention import SDPBackend, sdpa_kernel

from profiling.runner import RUNNER_VERSION, flops
from profiling.runner.device import describe_device, limit_memory, resolve_device
from profiling.runner.loaders import DTYPES, Loaded, LoadError, load
from profiling.runner.telemetry import GpuMonitor, MemoryPeak, Reading
from profiling.runner.timing import Clock, Stats
from vocab.sweep_cost import usd_per_1m
from vocab.sweeps import Setting, SweepSpec

BACKENDS = {
    "flash": SDPBackend.FLASH_ATTENTION,
    "efficient": SDPBackend.EFFICIENT_ATTENTION,
    "math": SDPBackend.MATH,
}
OK, OOM, UNSUPPORTED, ERROR = "ok", "oom", "unsupported", "error"
MIN_MONITORED_S = 1.0
MAX_REPEATS = 1000
TINY_S = 1e-9  # a floor for divisions: a timer that reads zero means "too fast to see"


class Unsupported(Exception):
    """This device or torch build cannot run the setting (a kernel, a dtype)."""


def is_oom(exc: BaseException) -> bool:
    if isinstance(exc, torch.OutOfMemoryError):
        return True
    text = str(exc)
    # The CPU allocator raises a plain RuntimeError when the address space runs out.
    return isinstance(exc, RuntimeError) and (
        "can't allocate memory" in text or "out of memory" in text.lower()
    )


@contextlib.contextmanager
def attention_backend(name: str) -> Iterator[None]:
    if name == "auto":
        yield
        return
    with sdpa_kernel(BACKENDS[name]):
        yield


def probe_attention(loaded: Loaded, name: str, dtype: torch.dtype, device: torch.device) -> None:
    """Check the backend runs prefill- and decode-shaped attention here; tell the model
    whether it takes grouped KV heads natively. Raises Unsupported."""
    c = loaded.config
    if loaded.kind != "preset" or c is None:
        if name != "auto":
            raise Unsupported("attention backends are chosen only for the built-in presets")
        return
    q = torch.zeros(1, c.n_heads, 8, c.head_dim, dtype=dtype, device=device)
    k = torch.zeros(1, c.n_kv_heads, 8, c.head_dim, dtype=dtype, device=device)
    repeated = k.repeat_interleave(c.n_heads // c.n_kv_heads, dim=1)
    grouped = c.n_heads != c.n_kv_heads

    def runs(keys: torch.Tensor, gqa: bool) -> bool:
        try:
            with attention_backend(name):
                F.scaled_dot_product_attention(q, keys, keys, is_causal=True, enable_gqa=gqa)
                F.scaled_dot_product_attention(q[:, :, :1], keys, keys, enable_gqa=gqa)
        except (RuntimeError, NotImplementedError):
            return False
        return True

    if runs(k, grouped):
        loaded.module.set_native_gqa(True)  # type: ignore[operator]
    elif grouped and runs(repeated, False):
        loaded.module.set_native_gqa(False)  # type: ignore[operator]
    else:
        raise Unsupported(f"{name} attention does not run on {device.type} in {dtype}")


@dataclass
class Timings:
    runs: int
    prefill: Stats
    decode: Stats  # all gen - 1 decode steps of one repeat
    total: Stats
    reading: Reading | None
    peak_memory: int | None


def time_point(
    loaded: Loaded,
    setting: Setting,
    spec: SweepSpec,
    device: torch.device,
    call: Callable[[torch.Tensor, Any, int], tuple[torch.Tensor, Any]],
    monitor: GpuMonitor | None,
) -> Timings:
    dtype = DTYPES[setting.dtype]
    clock, memory = Clock(device), MemoryPeak(device)
    generator = torch.Generator(device="cpu").manual_seed(spec.seed)
    prompt = torch.randint(
        0, loaded.vocab, (setting.batch_size, setting.prompt_len), generator=generator
    ).to(device)
    length = setting.prompt_len + setting.gen_len
    loaded.prepare(length, device)
    memory.reset()

    # Allocated once and overwritten by every repeat, as a serving engine keeps its
    # KV cache: a fresh one per repeat would time the CPU's page faults on first touch.
    kept = loaded.new_cache(setting.batch_size, length, dtype, device)

    def once() -> tuple[float, float]:
        cache = kept
        start = clock.mark()
        logits, cache = call(prompt, cache, -1)
        token = logits.argmax(-1, keepdim=True)
        first = clock.mark()
        for step in range(setting.gen_len - 1):
            logits, cache = call(token, cache, setting.prompt_len + step)
            token = logits.argmax(-1, keepdim=True)
        end = clock.mark()
        clock.sync()
        return clock.seconds(start, first), clock.seconds(first, end)

    with torch.inference_mode(), attention_backend(setting.attention):
        for _ in range(spec.warmup):
            once()
        runs: list[tuple[float, float]] = []
        reading = None
        if monitor is not None:
            monitor.start()
        try:
            started = time.perf_counter()
            # NVML's power reading is a ~1 s average and its energy counter is coarse:
            # with a monitor, keep repeating until a second has passed.
            while len(runs) < spec.repeats or (
                monitor is not None
                and time.perf_counter() - started < MIN_MONITORED_S
                and len(runs) < MAX_REPEATS
            ):
                runs.append(once())
        finally:
            if monitor is not None:
                reading = monitor.stop()
    prefill = [r[0] for r in runs]
    decode = [r[1] for r in runs]
    return Timings(
        len(runs),
        Stats.of(prefill),
        Stats.of(decode),
        Stats.of([a + b for a, b in runs]),
        reading,
        memory.read(),
    )


def figures(
    loaded: Loaded, setting: Setting, t: Timings, device_info: dict[str, Any]
) -> dict[str, Any]:
    """Per-point figures from the median times. MFU is prefill's (compute-bound);
    bandwidth use is decode's (memory-bound), the two numbers that say how close
    each phase runs to the hardware."""
    b, p, g = setting.batch_size, setting.prompt_len, setting.gen_len
    c = loaded.config
    steps = g - 1
    if c is not None:
        prefill_flops = flops.prefill_flops(c, b, p)
        decode_flops = flops.decode_flops(c, b, p, g)
    else:  # shape unknown: 2 FLOPs per parameter per token
        prefill_flops = 2 * loaded.params() * b * p
        decode_flops = 2 * loaded.params() * b * steps
    kv_bytes = DTYPES[setting.dtype].itemsize
    moved = (
        flops.decode_bytes(c, loaded.weight_bytes(), kv_bytes, b, p, g)
        if c is not None
        else loaded.weight_bytes() * steps
    )
    peak = device_info.get("peak") or {}
    peak_tflops = (peak.get("tflops") or {}).get(setting.dtype)
    peak_bw = peak.get("gb_per_s")
    prefill_s, decode_s = max(t.prefill.median, TINY_S), max(t.decode.median, TINY_S)
    total_s = max(t.total.median, TINY_S)
    prefill_tflops = prefill_flops / prefill_s / 1e12
    decode_gb_per_s = moved / decode_s / 1e9
    out: dict[str, Any] = {
        "ttft_ms": prefill_s * 1e3,
        "ttft_ms_min": t.prefill.low * 1e3,
        "ttft_ms_max": t.prefill.high * 1e3,
        "itl_ms": decode_s / steps * 1e3,
        "itl_ms_min": t.decode.low / steps * 1e3,
        "itl_ms_max": t.decode.high / steps * 1e3,
        "request_ms": t.total.median * 1e3,
        "prefill_tokens_per_s": b * p / prefill_s,
        "decode_tokens_per_s": b * steps / decode_s,
        "tokens_per_s": b * (p + g) / total_s,
        "peak_memory_bytes": t.peak_memory,
        "prefill_tflops": prefill_tflops,
        "decode_tflops": decode_flops / decode_s / 1e12,
        "mfu": prefill_tflops / peak_tflops if peak_tflops else None,
        "decode_gb_per_s": decode_gb_per_s,
        "mbu": decode_gb_per_s / peak_bw if peak_bw else None,
        "repeats": t.runs,
        "avg_power_w": None,
        "energy_j_per_token": None,
        "gpu_util_pct": None,
    }
    if t.reading is not None:
        out["avg_power_w"] = t.reading.avg_power_w
        out["gpu_util_pct"] = t.reading.gpu_util_pct
        if t.reading.energy_j is not None:
            out["energy_j_per_token"] = t.reading.energy_j / (t.runs * b * (p + g))
    return out


def _model_info(loaded: Loaded) -> dict[str, Any]:
    info: dict[str, Any] = {"name": loaded.name, "kind": loaded.kind, "params": loaded.params()}
    if loaded.config is not None:
        c = loaded.config
        info.update(
            layers=c.n_layers,
            d_model=c.d_model,
            heads=c.n_heads,
            kv_heads=c.n_kv_heads,
            d_ff=c.d_ff,
            vocab=c.vocab,
        )
    info["source"] = loaded.info.get("source", "")
    return info


def _release(device: torch.device) -> None:
    gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()


def run(
    spec: SweepSpec, emit: Callable[[dict[str, Any]], None], usd_per_hour: float | None = None
) -> dict[str, Any]:
    """Run every point of `spec`, calling emit() with each event as it happens:
    {"event": "start", ...}, one {"event": "point", "point": {...}} per setting, and
    {"event": "done"}. A point that runs out of memory or cannot run here is
    recorded with its status and the sweep goes on. Returns the whole run."""
    device = resolve_device(spec.device)
    device_info = describe_device(device)
    torch.zeros(1, device=device).sum()  # start the device (and CPU thread pools) first
    limit_memory(device, spec.memory_limit_bytes)
    monitor = GpuMonitor.for_device(device)
    settings = spec.settings()
    header = {
        "runner": RUNNER_VERSION,
        "spec": spec.to_dict(),
        "device": device_info,
        "total": len(settings),
        "model": {"name": spec.model_name},
    }
    emit({"event": "start", **header})
    points: list[dict[str, Any]] = []
    index = 0
    groups: dict[tuple[str, str, str, bool], list[Setting]] = {}
    for setting in settings:
        key = (setting.dtype, setting.quant, setting.attention, setting.compile)
        groups.setdefault(key, []).append(setting)
    for (dtype, quant, attention, compiled), members in groups.items():
        loaded: Loaded | None = None
        failure: tuple[str, str] | None = None
        call: Any = None
        try:
            loaded = load(spec.preset, spec.model_path, dtype, quant, device, spec.seed)
            header["model"] = _model_info(loaded)
            probe_attention(loaded, attention, DTYPES[dtype], device)
            call = _caller(loaded, compiled)
        except Unsupported as exc:
            failure = (UNSUPPORTED, str(exc))
        except LoadError:
            raise
        except Exception as exc:  # noqa: BLE001 - recorded on each point, the sweep goes on
            failure = (OOM, _first_line(exc)) if is_oom(exc) else (_kind(exc), _first_line(exc))
        for setting in members:
            point: dict[str, Any] = {"index": index, **setting.__dict__, "status": OK, "error": ""}
            index += 1
            if failure is not None:
                point.update(status=failure[0], error=failure[1])
            else:
                assert loaded is not None
                try:
                    timings = time_point(loaded, setting, spec, device, call, monitor)
                    measured = figures(loaded, setting, timings, device_info)
                    point.update({k: _finite(v) for k, v in measured.items()})
                except Exception as exc:  # noqa: BLE001
                    status = OOM if is_oom(exc) else _kind(exc)
                    point.update(status=status, error=_first_line(exc))
                if point["status"] != OK:
                    # Out here, not in the except block: the traceback's frames (and the
                    # tensors they hold) are gone, so the memory really goes back.
                    _release(device)
            if usd_per_hour is not None:
                cost = usd_per_1m(point, usd_per_hour)
                if cost is not None:
                    point["usd_per_1m_tokens"], point["usd_per_1m_output_tokens"] = cost
            points.append(point)
            emit({"event": "point", "point": point})
        del loaded, call
        if compiled:
            torch._dynamo.reset()  # its graphs hold the group's weights
        _release(device)
    emit({"event": "done", "model": header["model"]})
    return {**header, "points": points}


def _caller(loaded: Loaded, compiled: bool) -> Callable[[torch.Tensor, Any, int], Any]:
    """call(tokens, cache, position): position -1 is prefill."""
    if not compiled:
        return lambda tokens, cache, pos: (
            loaded.prefill(tokens, cache) if pos < 0 else loaded.decode(tokens, cache, pos)
        )
    if loaded.kind != "preset":
        raise Unsupported("torch.compile is offered for the built-in presets only")
    # Dynamo caches graphs on Transformer.forward's code object, shared by every
    # group: a graph traced for another dtype or attention backend must not be
    # reused, nor its weights kept alive, nor the recompile limit silently send
    # later groups back to eager while they are labelled compiled.
    torch._dynamo.reset()
    if hasattr(torch._dynamo.config, "fail_on_recompile_limit_hit"):
        torch._dynamo.config.fail_on_recompile_limit_hit = True
    # dynamic=True: one graph for every batch size and cache position, instead of a
    # recompilation per decode step.
    module = torch.compile(loaded.module, dynamic=True)

    def call(tokens: torch.Tensor, cache: Any, pos: int) -> tuple[torch.Tensor, Any]:
        if pos < 0:
            return module(tokens, cache, 0, last_only=True, causal=True)[:, -1], cache
        return module(tokens, cache, pos, causal=False)[:, -1], cache

    return call


def _finite(value: Any) -> Any:
    # A zero-length interval or an overflow must reach the server as "not measured":
    # JSON has no NaN, and the server refuses a point that carries one.
    return None if isinstance(value, float) and not math.isfinite(value) else value


def _kind(exc: BaseException) -> str:
    return UNSUPPORTED if isinstance(exc, Unsupported | NotImplementedError) else ERROR


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:500]
