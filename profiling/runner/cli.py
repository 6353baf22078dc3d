"""`inferscope-profile`: run a sweep here and print a table or JSON, or post it to the server.

    inferscope-profile --preset 1b --batch 1,8,32 --dtype bf16,fp16 --device cuda

`--format jsonl` prints one JSON event per line as the sweep goes: the agent runs
the runner that way in a subprocess and forwards the progress.
"""

import argparse
import json
import math
import os
import re
import socket
import sys
import urllib.error
import urllib.request
from collections.abc import Sequence
from typing import Any, TextIO

from vocab.sweeps import SpecError, SweepSpec, setting_label

_SIZE = re.compile(r"^(\d+(?:\.\d+)?)\s*([KMGT]?)(?:i?B)?$", re.IGNORECASE)


class UsageError(Exception):
    """One plain line for the terminal."""


def size(text: str) -> int:
    """Bytes from "2GiB", "512M" or "1048576" (binary units either way)."""
    match = _SIZE.match(text.strip())
    if not match:
        raise UsageError(f"{text!r} is not a size such as 512MiB or 2GiB")
    power = " KMGT".index(match.group(2).upper() or " ")
    return int(float(match.group(1)) * 1024**power)


def price(text: str) -> float:
    """argparse type: a finite amount, not negative."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an amount") from None
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not an amount of $ per hour")
    return value


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="inferscope-profile",
        description="Measure latency, throughput, memory, energy and $ per 1M tokens of a model.",
    )
    model = p.add_mutually_exclusive_group()
    model.add_argument("--preset", help="built-in model shape: tiny, 125m, 1b, 7b, 13b")
    model.add_argument("--model-path", help="a TorchScript file or a Hugging Face model folder")
    p.add_argument("--spec-file", help="a JSON sweep spec (as the server sends); flags override it")
    p.add_argument("--device", help="auto (default), cuda or cpu")
    p.add_argument("--batch", help="batch sizes, e.g. 1,8,32")
    p.add_argument("--prompt-len", help="prompt lengths in tokens, e.g. 128,1024")
    p.add_argument("--gen-len", help="generated tokens per request, e.g. 128")
    p.add_argument("--dtype", help="fp32, fp16, bf16 (comma-separated)")
    p.add_argument("--quant", help="none, int8 (weight-only)")
    p.add_argument("--attention", help="auto, flash, efficient, math")
    p.add_argument("--compile", help="off, on, or off,on")
    p.add_argument("--warmup", type=int, help="untimed runs per point (default 2)")
    p.add_argument("--repeats", type=int, help="timed runs per point (default 5)")
    p.add_argument("--memory-limit", help="cap memory for the run, e.g. 20GiB")
    p.add_argument("--usd-per-hour", type=price, help="GPU price, for $ per 1M tokens here")
    p.add_argument("--format", choices=("table", "json", "jsonl"), default="table")
    p.add_argument("--post", metavar="SERVER_URL", help="send the results to this Inferscope")
    p.add_argument("--token", help="agent token for --post (or INFERSCOPE_TOKEN)")
    p.add_argument("--node", help="node name for --post (default: the host name)")
    return p


def build_spec(args: argparse.Namespace) -> SweepSpec:
    data: dict[str, Any] = {}
    if args.spec_file:
        try:
            with open(args.spec_file, encoding="utf-8") as f:
                data = json.load(f)
        except (OSError, ValueError) as exc:
            raise UsageError(f"--spec-file {args.spec_file}: {exc}") from None
        if not isinstance(data, dict):
            raise UsageError(f"--spec-file {args.spec_file}: expected a JSON object")
    flags = {
        "preset": args.preset,
        "model_path": args.model_path,
        "device": args.device,
        "batch_sizes": args.batch,
        "prompt_lens": args.prompt_len,
        "gen_lens": args.gen_len,
        "dtypes": args.dtype,
        "quants": args.quant,
        "attentions": args.attention,
        "compile": args.compile,
        "warmup": args.warmup,
        "repeats": args.repeats,
    }
    if args.preset:
        data.pop("model_path", None)
    if args.model_path:
        data.pop("preset", None)
    data.update({k: v for k, v in flags.items() if v is not None})
    if args.memory_limit:
        data["memory_limit_bytes"] = size(args.memory_limit)
    if not data.get("preset") and not data.get("model_path"):
        data["preset"] = "tiny"
    try:
        return SweepSpec.from_dict(data)
    except SpecError as exc:
        first = exc.errors[0]
        flag = first["field"].replace("_", "-") or "spec"
        raise UsageError(f"{flag}: {first['message']}") from None


COLUMNS = (
    ("batch", "batch_size", "{}"),
    ("prompt", "prompt_len", "{}"),
    ("gen", "gen_len", "{}"),
    ("setting", "label", "{}"),
    ("status", "status", "{}"),
    ("TTFT ms", "ttft_ms", "{:.2f}"),
    ("ITL ms", "itl_ms", "{:.3f}"),
    ("prefill tok/s", "prefill_tokens_per_s", "{:,.0f}"),
    ("decode tok/s", "decode_tokens_per_s", "{:,.0f}"),
    ("peak mem", "peak_memory_bytes", "mib"),
    ("TFLOP/s", "prefill_tflops", "{:.3g}"),
    ("MFU", "mfu", "pct"),
    ("GB/s", "decode_gb_per_s", "{:.1f}"),
    ("MBU", "mbu", "pct"),
    ("W", "avg_power_w", "{:.0f}"),
    ("J/tok", "energy_j_per_token", "{:.4f}"),
    ("$/1M tok", "usd_per_1m_tokens", "{:.4f}"),
)


def _cell(point: dict[str, Any], key: str, fmt: str) -> str:
    if key == "label":
        return setting_label(point["dtype"], point["quant"], point["attention"], point["compile"])
    value = point.get(key)
    if value is None:
        return "-"
    if fmt == "mib":
        return f"{value / 2**20:,.0f} MiB"
    if fmt == "pct":
        return f"{value * 100:.1f}%"
    return fmt.format(value)


def table(run: dict[str, Any], out: TextIO) -> None:
    device = run["device"]
    model = run["model"]
    params = model.get("params")
    out.write(
        f"{model['name']} ({params / 1e6:,.1f}M parameters) on {device.get('name')}"
        f" [{device['type']}, torch {device['torch']}]\n"
        if params
        else f"{model['name']}\n"
    )
    rows = [[title for title, _, _ in COLUMNS]]
    rows += [[_cell(p, key, fmt) for _, key, fmt in COLUMNS] for p in run["points"]]
    widths = [max(len(row[i]) for row in rows) for i in range(len(COLUMNS))]
    for n, row in enumerate(rows):
        out.write("  ".join(cell.rjust(widths[i]) for i, cell in enumerate(row)).rstrip() + "\n")
        if n == 0:
            out.write("  ".join("-" * w for w in widths) + "\n")
    for point in run["points"]:
        if point["status"] != "ok":
            out.write(f"point {point['index']}: {point['status']}: {point['error']}\n")
    if not device.get("peak") and device["type"] == "cuda":
        out.write("no peak figures for this GPU model: MFU and MBU are not computed\n")


def post(url: str, token: str, node: str, run: dict[str, Any]) -> str:
    body = json.dumps({"node": node, "run": run}).encode()
    request = urllib.request.Request(
        url.rstrip("/") + "/api/v1/profiling/runs",
        data=body,
        method="POST",
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            body = response.read()
        answer = json.loads(body or b"{}")
    except urllib.error.HTTPError as exc:
        detail = exc.read().decode(errors="replace")[:300]
        raise UsageError(f"--post: the server answered {exc.code}: {detail}") from None
    except (urllib.error.URLError, OSError) as exc:
        raise UsageError(f"--post: cannot reach {url}: {exc}") from None
    except ValueError:  # a proxy's HTML page, not Inferscope
        raise UsageError(f"--post: {url} did not answer as Inferscope does") from None
    if not isinstance(answer, dict):
        raise UsageError(f"--post: {url} did not answer as Inferscope does")
    return str(answer.get("url") or answer.get("id") or "")


def main(argv: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    args = parser().parse_args(argv)
    try:
        spec = build_spec(args)
        token = args.token or os.environ.get("INFERSCOPE_TOKEN", "")
        if args.post and not token:
            raise UsageError("--post needs --token or INFERSCOPE_TOKEN (an agent token)")
        from profiling.runner.loaders import LoadError
        from profiling.runner.sweep import run

        def emit(event: dict[str, Any]) -> None:
            if args.format == "jsonl":
                out.write(json.dumps(event) + "\n")
                out.flush()

        try:
            result = run(spec, emit, args.usd_per_hour)
        except LoadError as exc:
            raise UsageError(str(exc)) from None
        if args.format == "json":
            json.dump(result, out, indent=2)
            out.write("\n")
        elif args.format == "table":
            table(result, out)
        if args.post:
            where = post(args.post, token, args.node or socket.gethostname(), result)
            print(f"posted: {where}", file=sys.stderr)  # noqa: T201
    except UsageError as exc:
        print(f"inferscope-profile: {exc}", file=sys.stderr)  # noqa: T201
        return 2
    return 0
