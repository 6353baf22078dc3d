"""The wheel's packages are the project's own apps in INSTALLED_APPS, read from
inferscope/settings.py, so that a new app cannot be left out of the package by a
second hand-kept list. Everything else is declared in pyproject.toml."""

import ast
from pathlib import Path

from setuptools import find_namespace_packages, setup

ROOT = Path(__file__).resolve().parent
# Top-level packages that are not shipped: the test suite and the benchmarks.
NOT_SHIPPED = {"tests", "bench"}
# Shipped packages that are not Django apps: the vocabulary the agent and runner share.
PLAIN = {"vocab"}


def installed_apps() -> list[str]:
    tree = ast.parse((ROOT / "inferscope" / "settings.py").read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and any(
            isinstance(target, ast.Name) and target.id == "INSTALLED_APPS"
            for target in node.targets
        ):
            return list(ast.literal_eval(node.value))
    raise SystemExit("setup.py: no INSTALLED_APPS list in inferscope/settings.py")


def shipped_packages() -> list[str]:
    apps = {app for app in installed_apps() if (ROOT / app / "__init__.py").is_file()} | PLAIN
    # A top-level package that is neither an app nor listed above would be missing
    # from the wheel; refuse to build rather than ship a server that cannot import.
    stray = {path.parent.name for path in ROOT.glob("*/__init__.py")} - apps - NOT_SHIPPED
    if stray:
        raise SystemExit(
            f"setup.py: {sorted(stray)} are packages but not in INSTALLED_APPS; "
            "add them there or to NOT_SHIPPED"
        )
    # Namespace packages too: templates/, static/ and data/ folders are shipped as such.
    include = [name for app in apps for name in (app, f"{app}.*")]
    return find_namespace_packages(where=str(ROOT), include=include, exclude=["*.__pycache__"])


setup(packages=shipped_packages())
