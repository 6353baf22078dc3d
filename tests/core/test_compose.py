import fnmatch
import subprocess
from pathlib import Path

import pytest
import yaml

from inferscope.cli import PROCESSES

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"


def load() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


def test_it_describes_the_production_stack():
    services = load()["services"]
    assert {"postgres", "redis", "web", "worker", "beat"} <= set(services)


def test_the_processes_run_the_commands_make_run_uses():
    services = load()["services"]
    for name, argv in PROCESSES.items():
        assert services[name]["command"] == argv, name


def test_the_processes_use_postgres_and_redis():
    services = load()["services"]
    for name in PROCESSES:
        env = services[name]["environment"]
        assert env["DATABASE_URL"].startswith("postgres://") and "@postgres:" in env["DATABASE_URL"]
        assert env["CELERY_BROKER_URL"].startswith("redis://redis:")
        assert env["CACHE_URL"].startswith("redis://redis:")


def test_migrations_run_before_the_processes_start():
    services = load()["services"]
    assert services["migrate"]["command"] == ["inferscope", "init"]
    for name in PROCESSES:
        assert services[name]["depends_on"]["migrate"]["condition"] == (
            "service_completed_successfully"
        )


def test_the_image_installs_the_locked_wheel_built_from_the_whole_tree():
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "COPY . .\n" in dockerfile
    assert "pip wheel --no-deps --no-build-isolation" in dockerfile
    assert dockerfile.count("--require-hashes --no-deps -r") == 2
    assert "pip check" in dockerfile


@pytest.mark.slow
def test_the_docker_build_context_keeps_every_file_the_build_needs():
    ignored = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    tracked = subprocess.run(
        ["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    needed = [p for p in tracked if not p.startswith(("tests/", "docs/", "bench/", ".ci/"))]
    assert "economics/__init__.py" in needed and "requirements/agent.txt" in needed
    dropped = [p for p in needed if _docker_ignores(ignored, p)]
    assert dropped == []


def _docker_ignores(patterns: list[str], path: str) -> bool:
    """Docker's rule: a pattern excludes a path or any folder above it."""
    parts = path.split("/")
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    for pattern in patterns:
        bare = pattern.removeprefix("**/")
        for prefix in prefixes:
            if fnmatch.fnmatch(prefix, pattern) or fnmatch.fnmatch(prefix.rsplit("/", 1)[-1], bare):
                return True
    return False
