"""A whole sweep of the tiny preset on the CPU, in seconds."""

import json
import subprocess
import sys
import time

import pytest

from profiling.runner.sweep import run
from vocab.presets import PRESETS
from vocab.sweep_cost import usd_per_1m
from vocab.sweeps import SweepSpec

SMALL = {
    "preset": "tiny",
    "device": "cpu",
    "batch_sizes": [1, 4],
    "prompt_lens": [16],
    "gen_lens": [8],
    "dtypes": ["fp32", "bf16"],
    "quants": ["none", "int8"],
    "attentions": ["math", "efficient"],
    "warmup": 1,
    "repeats": 3,
}


@pytest.mark.slow  # a whole sweep on a real model: seconds even on the tiny preset
def test_a_small_sweep_measures_every_point_and_goes_on_past_unsupported_ones():
    events: list[dict] = []
    started = time.perf_counter()
    result = run(SweepSpec.from_dict(SMALL), events.append, usd_per_hour=2.0)
    assert time.perf_counter() - started < 30
    points = result["points"]
    assert len(points) == 2 * 2 * 2 * 2 == result["total"]
    assert [e["event"] for e in events] == ["start", *["point"] * 16, "done"]
    assert [p["index"] for p in points] == list(range(16))
    # No memory-efficient SDPA kernel on the CPU: recorded, the others still run.
    for p in points:
        if p["attention"] == "efficient":
            assert p["status"] == "unsupported", p
            assert "efficient attention does not run on cpu" in p["error"]
        else:
            assert p["status"] == "ok", p
    ok = [p for p in points if p["status"] == "ok"]
    assert len(ok) == 8
    for p in ok:
        assert p["ttft_ms_min"] <= p["ttft_ms"] <= p["ttft_ms_max"]
        assert p["itl_ms_min"] <= p["itl_ms"] <= p["itl_ms_max"]
        steps = p["gen_len"] - 1
        assert p["decode_tokens_per_s"] == pytest.approx(
            p["batch_size"] * steps / (p["itl_ms"] * steps / 1000)
        )
        assert p["prefill_tokens_per_s"] == pytest.approx(
            p["batch_size"] * p["prompt_len"] / (p["ttft_ms"] / 1000)
        )
        assert p["peak_memory_bytes"] > 10 * 2**20  # this process's peak RSS on the CPU
        assert p["prefill_tflops"] > 0 and p["decode_gb_per_s"] > 0
        assert p["mfu"] is None and p["mbu"] is None  # no peak figures for a CPU
        assert p["avg_power_w"] is None  # NVML measures GPUs only
        assert p["repeats"] == 3
        assert (p["usd_per_1m_tokens"], p["usd_per_1m_output_tokens"]) == usd_per_1m(p, 2.0)
    assert result["model"]["params"] == PRESETS["tiny"].params()
    assert result["device"]["type"] == "cpu"


def test_cost_per_million_tokens_is_the_requests_gpu_time_over_its_tokens():
    point = {"status": "ok", "batch_size": 4, "prompt_len": 100, "gen_len": 50, "request_ms": 900}
    # 0.9 s of a $3.60/h GPU = $0.0009 for 4 x 150 = 600 tokens (200 generated).
    total, output = usd_per_1m(point, 3.6)
    assert total == pytest.approx(0.0009 / 600 * 1e6)
    assert output == pytest.approx(0.0009 / 200 * 1e6)
    # On-premises: plus 0.5 J/token x 600 tokens = 300 J = 1/12,000 kWh at $0.12 x PUE 1.5.
    total, _ = usd_per_1m({**point, "energy_j_per_token": 0.5}, 3.6, 0.12, 1.5)
    assert total == pytest.approx((0.0009 + 300 / 3.6e6 * 0.12 * 1.5) / 600 * 1e6)
    assert usd_per_1m({**point, "status": "oom"}, 3.6) is None


@pytest.mark.slow
def test_an_out_of_memory_point_is_recorded_and_the_sweep_goes_on(tmp_path):
    # Under a 256 MiB cap, batch 2048 x 1024 tokens needs 1 GiB of KV cache alone.
    spec = {
        "preset": "tiny",
        "device": "cpu",
        "batch_sizes": [1, 2048],
        "prompt_lens": [1000],
        "gen_lens": [24],
        "warmup": 0,
        "repeats": 1,
        "memory_limit_bytes": 256 * 2**20,
    }
    path = tmp_path / "spec.json"
    path.write_text(json.dumps(spec))
    # A subprocess: the cap is the runner process's own, as when the agent runs it.
    done = subprocess.run(
        [sys.executable, "-m", "profiling.runner", "--spec-file", str(path), "--format", "json"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    points = json.loads(done.stdout)["points"]
    assert [p["status"] for p in points] == ["ok", "oom"]
    assert "allocate" in points[1]["error"]
    assert "ttft_ms" not in points[1]


@pytest.mark.slow
def test_compiled_model_decodes_what_the_eager_model_decodes():
    # The runner's own compiled path (dynamic shapes, one graph for every step);
    # about 45 s of Inductor compilation on a CPU, once per test run.
    import torch

    from profiling.runner.loaders import load
    from profiling.runner.sweep import _caller

    cpu = torch.device("cpu")
    loaded = load("tiny", "", "fp32", "none", cpu, seed=3)
    loaded.prepare(16, cpu)
    eager, compiled = _caller(loaded, False), _caller(loaded, True)
    breaks = torch._dynamo.utils.counters["graph_break"]
    breaks.clear()
    prompt = torch.randint(0, 512, (2, 8), generator=torch.Generator().manual_seed(1))
    outputs = []
    with torch.inference_mode():
        for call in (eager, compiled):
            cache = loaded.new_cache(2, 16, torch.float32, cpu)
            logits, cache = call(prompt, cache, -1)
            steps = [logits]
            for pos in (8, 9, 10):
                token = steps[-1].argmax(-1, keepdim=True)
                logits, cache = call(token, cache, pos)
                steps.append(logits)
            outputs.append(torch.stack(steps))
    torch.testing.assert_close(outputs[1], outputs[0], rtol=1e-4, atol=1e-4)
    # A graph break inside the layer loop sends every layer to its own frame and
    # recompiles it per layer index: past 8 layers the recompile limit fails the
    # point (seen on an H100 with the 125m preset before the causal flag was passed).
    assert not breaks, dict(breaks)
