import tomllib
from pathlib import Path

import yaml

from inferscope.cli import PROCESSES

COMPOSE = Path(__file__).resolve().parents[2] / "docker-compose.yml"


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


def test_the_image_copies_every_package_the_project_installs():
    root = COMPOSE.parent
    dockerfile = (root / "Dockerfile").read_text()
    packages = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["setuptools"]
    for pattern in packages["packages"]["find"]["include"]:
        name = pattern.rstrip("*")
        assert f"COPY {name} {name}\n" in dockerfile, name
