"""Does the profiling runner time what torch.utils.benchmark times? And is bf16 faster?

What it measures
    For each dtype, the runner's own sweep (`profiling.runner.sweep.run`, warm-up,
    CUDA events or perf_counter, median of the repeats) measures one setting: TTFT
    (prefill) and inter-token latency (decode). Then, in the same process, on the
    same model built the same way, torch.utils.benchmark.Timer times the same two
    forward passes independently: the prefill of the prompt into a fresh KV cache,
    and one decode step at the middle of the generated range (the runner's ITL is
    the mean over all steps; the cache grows linearly, so the middle step is the
    mean's equal to first order). Timer synchronizes CUDA itself and picks its own
    repetition count (blocked_autorange over at least 1 s and 10 calls).

    It prints both medians and their ratio per dtype; the target is within 5%.
    On a GPU, eager decode of the small presets is bound by Python launching kernels:
    on an H100 both the runner's and Timer's decode step varied by up to 50% from
    run to run (11.0 to 17.5 ms, 1b, batch 8), while prefill agreed within 1%.
    Then decode throughput of each dtype against the first (fp32 by default):
    on a GPU, bf16 should beat fp32.

    python bench/profiling_timing.py --preset 1b --device cuda --batch 8 \
        --prompt-len 512 --gen-len 64 --dtypes fp32,bf16
"""

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch  # noqa: E402
from torch.utils import benchmark  # noqa: E402

from profiling.runner.device import resolve_device  # noqa: E402
from profiling.runner.loaders import DTYPES, load  # noqa: E402
from profiling.runner.sweep import attention_backend, probe_attention, run  # noqa: E402
from vocab.sweeps import SweepSpec


def independent(args: argparse.Namespace, dtype: str, device: torch.device) -> tuple[float, float]:
    """Median seconds of one prefill and of one mid-range decode step, by Timer."""
    loaded = load(args.preset, "", dtype, "none", device, seed=0)
    probe_attention(loaded, args.attention, DTYPES[dtype], device)
    length = args.prompt_len + args.gen_len
    loaded.prepare(length, device)
    generator = torch.Generator().manual_seed(0)
    prompt = torch.randint(0, loaded.vocab, (args.batch, args.prompt_len), generator=generator)
    prompt = prompt.to(device)
    token = prompt[:, :1].clone()
    middle = args.prompt_len + (args.gen_len - 1) // 2
    cache = loaded.new_cache(args.batch, length, DTYPES[dtype], device)

    def prefill() -> None:
        loaded.prefill(prompt, cache)[0].argmax(-1)

    def step() -> None:
        loaded.decode(token, cache, middle)[0].argmax(-1)

    with torch.inference_mode(), attention_backend(args.attention):
        prefill()  # fills the cache the decode step reads
        times = []
        for fn in (prefill, step):
            # Timer runs single-threaded unless told; the runner uses torch's default.
            timer = benchmark.Timer(
                stmt="fn()", globals={"fn": fn}, num_threads=torch.get_num_threads()
            )
            # At least 10 blocks: a 1.5 s CPU prefill would otherwise get one or two.
            once = timer.timeit(1).median
            times.append(timer.blocked_autorange(min_run_time=max(1.0, 10 * once)).median)
    return times[0], times[1]


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--preset", default="125m")
    p.add_argument("--device", default="auto")
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--prompt-len", type=int, default=256)
    p.add_argument("--gen-len", type=int, default=32)
    p.add_argument("--dtypes", default="fp32,bf16")
    p.add_argument("--attention", default="auto")
    p.add_argument("--repeats", type=int, default=10)
    args = p.parse_args()
    device = resolve_device(args.device)
    dtypes = args.dtypes.split(",")
    print(f"preset {args.preset}, batch {args.batch}, prompt {args.prompt_len}, "
          f"gen {args.gen_len}, attention {args.attention}, device {device}, "
          f"torch {torch.__version__}")  # fmt: skip
    spec = SweepSpec.from_dict(
        {
            "preset": args.preset, "device": args.device, "batch_sizes": [args.batch],
            "prompt_lens": [args.prompt_len], "gen_lens": [args.gen_len], "dtypes": dtypes,
            "attentions": [args.attention], "warmup": 2, "repeats": args.repeats,
        }
    )  # fmt: skip
    result = run(spec, lambda event: None)
    print(f"device: {result['device'].get('name')}")
    header = (
        f"{'dtype':>5}  {'what':>7}  {'runner ms':>10}  {'Timer ms':>10}  {'ratio':>6}  within 5%"
    )
    print(header)
    print("-" * len(header))
    ok = True
    decode_rate: dict[str, float] = {}
    for point in result["points"]:
        dtype = point["dtype"]
        if point["status"] != "ok":
            print(f"{dtype:>5}  {point['status']}: {point['error']}")
            continue
        prefill_s, step_s = independent(args, dtype, device)
        for what, ours, theirs in (
            ("prefill", point["ttft_ms"], prefill_s * 1e3),
            ("decode", point["itl_ms"], step_s * 1e3),
        ):
            ratio = ours / theirs
            within = abs(ratio - 1) <= 0.05
            ok &= within
            print(f"{dtype:>5}  {what:>7}  {ours:10.3f}  {theirs:10.3f}  {ratio:6.3f}  "
                  f"{'yes' if within else 'NO'}")  # fmt: skip
        decode_rate[dtype] = point["decode_tokens_per_s"]
        if point.get("mfu") is not None:
            mfu, mbu = point["mfu"] * 100, point["mbu"] * 100
            tflops, gbs = point["prefill_tflops"], point["decode_gb_per_s"]
            print(f"       MFU (prefill) {mfu:.1f}%, MBU (decode) {mbu:.1f}%, "
                  f"{tflops:.1f} TFLOP/s, {gbs:.0f} GB/s")  # fmt: skip
    base = dtypes[0]
    for dtype, rate in decode_rate.items():
        if dtype != base and base in decode_rate:
            print(f"decode tokens/s {dtype} / {base}: {rate / decode_rate[base]:.2f}x "
                  f"({rate:,.0f} vs {decode_rate[base]:,.0f})")  # fmt: skip
    print("all timings within 5%" if ok else "some timings differ by more than 5%")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
