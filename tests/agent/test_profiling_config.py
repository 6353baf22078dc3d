"""The agent's profiling settings: TOML < environment < flags, and their errors."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from collectors.agent.config import ConfigError, load

ROOT = Path(__file__).resolve().parents[2]
BASE = ["--dry-run", "--source", "simulated"]


def test_profiling_is_off_unless_a_preset_or_model_path_is_allowed():
    config = load(BASE)
    assert config.profiling_presets == [] and config.profiling_model_paths == []
    assert not config.profiling_enabled
    assert (config.profiling_max_time_s, config.profiling_poll_s) == (1800.0, 15.0)
    # No cap of the node's own, and every GPU the agent sees.
    assert (config.profiling_memory_limit_bytes, config.profiling_gpus) == (None, [])
    assert load([*BASE, "--profiling-model-path", "/models"]).profiling_enabled


def test_profiling_settings_come_from_file_then_environment_then_flags(tmp_path, monkeypatch):
    config_file = tmp_path / "agent.toml"
    config_file.write_text(
        'profiling_presets = ["tiny", "1b"]\n'
        'profiling_model_paths = ["/models/my model", "/srv/one.pt"]\n'
        'profiling_max_time = "2h"\n'
        'profiling_poll = "1m"\n'
        'profiling_memory_limit = "20GiB"\n'
        'profiling_gpu = [1, "GPU-6a9f7c3e-1b2d-4c5e-8f90-123456789abc"]\n'
    )
    from_file = load([*BASE, "--config", str(config_file)])
    assert from_file.profiling_presets == ["tiny", "1b"]
    assert from_file.profiling_model_paths == ["/models/my model", "/srv/one.pt"]
    assert (from_file.profiling_max_time_s, from_file.profiling_poll_s) == (7200.0, 60.0)
    assert from_file.profiling_memory_limit_bytes == 20 * 2**30
    assert from_file.profiling_gpus == ["1", "GPU-6a9f7c3e-1b2d-4c5e-8f90-123456789abc"]

    monkeypatch.setenv("INFERSCOPE_PROFILING_PRESETS", "125m, 7b")
    monkeypatch.setenv("INFERSCOPE_PROFILING_MODEL_PATHS", "/a,/b /c")
    monkeypatch.setenv("INFERSCOPE_PROFILING_MAX_TIME", "45m")
    monkeypatch.setenv("INFERSCOPE_PROFILING_POLL", "5s")
    monkeypatch.setenv("INFERSCOPE_PROFILING_MEMORY_LIMIT", "1.5T")
    monkeypatch.setenv("INFERSCOPE_PROFILING_GPU", "2, 3")
    from_env = load([*BASE, "--config", str(config_file)])
    assert from_env.profiling_presets == ["125m", "7b"]
    assert from_env.profiling_model_paths == ["/a", "/b", "/c"]
    assert (from_env.profiling_max_time_s, from_env.profiling_poll_s) == (2700.0, 5.0)
    assert from_env.profiling_memory_limit_bytes == int(1.5 * 2**40)
    assert from_env.profiling_gpus == ["2", "3"]

    flagged = load(
        [
            *BASE,
            "--config",
            str(config_file),
            "--profiling-preset",
            "tiny,13b",
            "--profiling-preset",
            "1b",
            "--profiling-model-path",
            "/x,y",
            "--profiling-model-path",
            "/z",
            "--profiling-max-time",
            "6h",
            "--profiling-poll",
            "0.5",
            "--profiling-memory-limit",
            "512MiB",
            "--profiling-gpu",
            "0,1",
            "--profiling-gpu",
            "0",
        ]
    )
    assert flagged.profiling_presets == ["tiny", "13b", "1b"]
    assert flagged.profiling_model_paths == ["/x,y", "/z"]  # a flag is one whole path
    assert (flagged.profiling_max_time_s, flagged.profiling_poll_s) == (21600.0, 0.5)
    assert flagged.profiling_memory_limit_bytes == 512 * 2**20
    assert flagged.profiling_gpus == ["0", "1"]


def test_a_memory_limit_in_toml_may_be_plain_bytes_and_one_gpu_a_number(tmp_path):
    config_file = tmp_path / "agent.toml"
    config_file.write_text("profiling_memory_limit = 8589934592\nprofiling_gpu = 0\n")
    config = load([*BASE, "--config", str(config_file)])
    assert (config.profiling_memory_limit_bytes, config.profiling_gpus) == (8 * 2**30, ["0"])


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--profiling-preset", "tiny,70b"], "profiling preset '70b' is unknown; one of tiny,"),
        (["--profiling-model-path", "models/llama"], "'models/llama' is not absolute"),
        (["--profiling-max-time", "30s"], "profiling time limit must be 1m to 6h"),
        (["--profiling-max-time", "7h"], "profiling time limit must be 1m to 6h"),
        (["--profiling-max-time", "soon"], "is not a duration"),
        (["--profiling-poll", "0"], "poll interval must be more than 0 s"),
        (["--profiling-memory-limit", "lots"], "'lots' is not a size such as 512MiB or 20GiB"),
        (["--profiling-memory-limit", "512KiB"], "memory limit must be 1MiB to 1PiB"),
        (["--profiling-memory-limit", "2048T"], "memory limit must be 1MiB to 1PiB"),
        (["--profiling-gpu", "cuda:0"], "profiling GPU 'cuda:0' is not a GPU index or UUID"),
        (["--profiling-gpu", "0,-1"], "profiling GPU '-1' is not a GPU index or UUID"),
    ],
)
def test_bad_profiling_settings_are_refused(args, message):
    with pytest.raises(ConfigError, match=message):
        load([*BASE, *args])


@pytest.mark.slow
def test_an_unknown_preset_stops_the_agent_with_one_plain_line():
    result = subprocess.run(
        [sys.executable, "-m", "collectors.agent.main", *BASE, "--profiling-preset", "huge"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
        env={**os.environ, "INFERSCOPE_PROFILING_PRESETS": ""},
    )
    assert result.returncode == 2
    assert result.stderr.startswith("inferscope-agent: profiling preset 'huge' is unknown")
    assert result.stderr.count("\n") == 1
