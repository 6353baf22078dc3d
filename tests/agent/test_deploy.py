"""The deploy/ examples start the agent with settings it accepts."""

import configparser
import re
import shlex
from pathlib import Path

import yaml

from collectors.agent.config import load

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"


def test_the_example_config_file_is_valid(tmp_path):
    token = tmp_path / "token"
    token.write_text("isa_example\n")
    text = (DEPLOY / "agent.toml").read_text().replace("/etc/inferscope/agent-token", str(token))
    config_file = tmp_path / "agent.toml"
    config_file.write_text(text)
    config = load(["--config", str(config_file)])
    assert config.token == "isa_example"
    assert [s.kind for s in config.sources] == ["nvml", "vllm"]
    assert config.interval_s == 10.0


def test_the_systemd_unit_starts_the_agent_with_that_file():
    unit = configparser.ConfigParser(strict=False, interpolation=None)
    unit.read_string((DEPLOY / "inferscope-agent.service").read_text())
    command = shlex.split(unit["Service"]["ExecStart"])
    assert command[0].endswith("/inferscope-agent")
    assert command[1:] == ["--config", "/etc/inferscope/agent.toml"]
    assert unit["Service"]["KillSignal"] == "SIGTERM"


def test_the_daemonset_runs_the_agent_with_flags_it_accepts(tmp_path):
    manifest = yaml.safe_load((DEPLOY / "agent-daemonset.yaml").read_text())
    [container] = manifest["spec"]["template"]["spec"]["containers"]
    command = container["command"]
    assert command[0] == "inferscope-agent"
    token = tmp_path / "token"
    token.write_text("isa_example")
    args = [
        re.sub(r"\$\(NODE_NAME\)", "gpu-node-7", a).replace(
            "/run/secrets/inferscope/token", str(token)
        )
        for a in command[1:]
    ]
    config = load(args)
    assert config.node == "gpu-node-7"
    assert [s.kind for s in config.sources] == ["nvml", "vllm"]
