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
    assert load([*BASE, "--profiling-model-path", "/models"]).profiling_enabled


def test_profiling_settings_come_from_file_then_environment_then_flags(tmp_path, monkeypatch):
    config_file = tmp_path / "agent.toml"
    config_file.write_text(
        'profiling_presets = ["tiny", "1b"]\n'
        'profiling_model_paths = ["/models/my model", "/srv/one.pt"]\n'
        'profiling_max_time = "2h"\n'
        'profiling_poll = "1m"\n'
    )
    from_file = load([*BASE, "--config", str(config_file)])
    assert from_file.profiling_presets == ["tiny", "1b"]
    assert from_file.profiling_model_paths == ["/models/my model", "/srv/one.pt"]
    assert (from_file.profiling_max_time_s, from_file.profiling_poll_s) == (7200.0, 60.0)

    monkeypatch.setenv("INFERSCOPE_PROFILING_PRESETS", "125m, 7b")
    monkeypatch.setenv("INFERSCOPE_PROFILING_MODEL_PATHS", "/a,/b /c")
    monkeypatch.setenv("INFERSCOPE_PROFILING_MAX_TIME", "45m")
    monkeypatch.setenv("INFERSCOPE_PROFILING_POLL", "5s")
    from_env = load([*BASE, "--config", str(config_file)])
    assert from_env.profiling_presets == ["125m", "7b"]
    assert from_env.profiling_model_paths == ["/a", "/b", "/c"]
    assert (from_env.profiling_max_time_s, from_env.profiling_poll_s) == (2700.0, 5.0)

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
        ]
    )
    assert flagged.profiling_presets == ["tiny", "13b", "1b"]
    assert flagged.profiling_model_paths == ["/x,y", "/z"]  # a flag is one whole path
    assert (flagged.profiling_max_time_s, flagged.profiling_poll_s) == (21600.0, 0.5)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--profiling-preset", "tiny,70b"], "profiling preset '70b' is unknown; one of tiny,"),
        (["--profiling-model-path", "models/llama"], "'models/llama' is not absolute"),
        (["--profiling-max-time", "30s"], "profiling time limit must be 1m to 6h"),
        (["--profiling-max-time", "7h"], "profiling time limit must be 1m to 6h"),
        (["--profiling-max-time", "soon"], "is not a duration"),
        (["--profiling-poll", "0"], "poll interval must be more than 0 s"),
    ],
)
def test_bad_profiling_settings_are_refused(args, message):
    with pytest.raises(ConfigError, match=message):
        load([*BASE, *args])


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
