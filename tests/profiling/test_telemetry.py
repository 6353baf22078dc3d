"""Power, energy and utilization from NVML (a fake stands in: no GPU here), and memory peaks."""

import time

import pytest
import torch

from profiling.runner.telemetry import GpuMonitor, MemoryPeak


class FakeNvml:
    """pynvml's calls the monitor makes: 350 W, 90% busy, the energy counter in mJ."""

    def __init__(self, energy_counter: bool = True) -> None:
        self.started = time.perf_counter()
        self.energy_counter = energy_counter

    def nvmlDeviceGetPowerUsage(self, handle):  # noqa: N802 - pynvml's names
        return 350_000

    def nvmlDeviceGetUtilizationRates(self, handle):  # noqa: N802
        return type("Util", (), {"gpu": 90, "memory": 40})()

    def nvmlDeviceGetTotalEnergyConsumption(self, handle):  # noqa: N802
        if not self.energy_counter:
            raise RuntimeError("NVML_ERROR_NOT_SUPPORTED")
        return int(1_000_000 + (time.perf_counter() - self.started) * 350_000)


def test_energy_comes_from_the_counter_and_power_from_samples():
    monitor = GpuMonitor(FakeNvml(), handle=object())
    monitor.start()
    time.sleep(0.2)
    reading = monitor.stop()
    assert reading.avg_power_w == 350.0
    assert reading.gpu_util_pct == 90.0
    assert 0.2 * 350 <= reading.energy_j < 0.4 * 350


def test_without_an_energy_counter_power_is_integrated_over_time():
    monitor = GpuMonitor(FakeNvml(energy_counter=False), handle=object())
    monitor.start()
    time.sleep(0.2)
    reading = monitor.stop()
    assert 0.2 * 350 <= reading.energy_j < 0.4 * 350


def test_no_monitor_for_a_cpu_run():
    assert GpuMonitor.for_device(torch.device("cpu")) is None


def test_cpu_peak_memory_is_reset_between_points():
    peak = MemoryPeak(torch.device("cpu"))
    peak.reset()
    big = torch.ones(64 * 2**20 // 4)  # 64 MiB, touched
    high = peak.read()
    del big
    peak.reset()
    low = peak.read()
    assert high is not None and low is not None
    assert high - low >= 48 * 2**20


def test_a_monitored_point_repeats_until_a_second_has_passed():
    from profiling.runner.loaders import load
    from profiling.runner.sweep import MAX_REPEATS, figures, time_point
    from vocab.sweeps import SweepSpec

    spec = SweepSpec.from_dict(
        {
            "preset": "tiny",
            "batch_sizes": [1],
            "prompt_lens": [4],
            # 8 forward passes a repeat: 1,000 repeats (the cap) of a shorter request
            # can finish inside the second on a fast, idle machine.
            "gen_lens": [8],
            "warmup": 0,
            "repeats": 2,
        }  # fmt: skip
    )
    setting = spec.settings()[0]
    cpu = torch.device("cpu")
    loaded = load("tiny", "", setting.dtype, "none", cpu)
    call = lambda tokens, cache, pos: (  # noqa: E731
        loaded.prefill(tokens, cache) if pos < 0 else loaded.decode(tokens, cache, pos)
    )
    timings = time_point(loaded, setting, spec, cpu, call, GpuMonitor(FakeNvml(), object()))
    # A tiny request takes milliseconds: the repeats go on past the 2 asked until
    # a second is filled (on a loaded machine 2 slow repeats may already fill it).
    assert timings.runs < MAX_REPEATS
    assert timings.runs * timings.total.high >= 0.9
    point = figures(loaded, setting, timings, {"peak": None})
    assert point["repeats"] == timings.runs
    # 350 W for the measured time, over the tokens of every repeat.
    energy = timings.reading.energy_j
    assert point["energy_j_per_token"] == pytest.approx(energy / (timings.runs * 1 * (4 + 8)))
    assert energy >= 350 * 0.9
