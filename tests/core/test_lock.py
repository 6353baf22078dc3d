"""requirements/*.txt, the lock every install uses, against pyproject.toml's ranges: a
dependency added to pyproject.toml without `make lock` fails here, not on a user's
machine."""

import re
import tomllib

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from tests.core.processes import ROOT

PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
EXTRAS = ["agent", "profiling", "huggingface", "dev"]
_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;]+)")


def pins(name: str) -> dict[str, Version]:
    text = (ROOT / "requirements" / f"{name}.txt").read_text()
    # One block per package: its pin line, then its hashes (indented).
    blocks = re.split(r"\n(?=\S)", text)
    found = {}
    for block in blocks:
        pin = _PIN.match(block)
        if pin:
            # pip installs the lock with --require-hashes: every pin carries its hashes.
            assert "--hash=sha256:" in block, block
            found[canonicalize_name(pin.group(1))] = Version(pin.group(2))
    assert found, name
    return found


def wanted(extra: str | None) -> list[Requirement]:
    """pyproject's requirements for the base install plus `extra`, self-references expanded."""
    out = [Requirement(r) for r in PYPROJECT["dependencies"]]
    todo = [extra] if extra else []
    while todo:
        for text in PYPROJECT["optional-dependencies"][todo.pop()]:
            req = Requirement(text)
            if req.name == PYPROJECT["name"]:
                todo.extend(req.extras)
            else:
                out.append(req)
    return out


@pytest.mark.parametrize("extra", [None, *EXTRAS])
def test_every_requirement_is_pinned_within_its_range(extra):
    locked = pins(extra or "base")
    torch = pins("torch")
    for req in wanted(extra):
        name = canonicalize_name(req.name)
        # torch leaves the resolve (requirements/overrides.txt): torch.txt holds its CPU build.
        version = torch.get(name) if name == "torch" else locked.get(name)
        assert version is not None, f"{req} is not in the {extra or 'base'} lock: run make lock"
        assert req.specifier.contains(version, prereleases=True), f"{req} locked at {version}"


def test_the_torch_lock_is_the_cpu_build_of_the_pin():
    (version,) = pins("torch").values()
    assert version.local == "cpu"
    (pin,) = [r for r in wanted("profiling") if r.name == "torch"]
    assert pin.specifier.contains(version)


def test_every_install_uses_the_lock_with_hashes():
    makefile = (ROOT / "Makefile").read_text()
    assert "pip install -q --require-hashes --no-deps" in makefile
    assert "-r requirements/dev.txt -r requirements/torch.txt" in makefile
    assert "-r requirements/agent.txt" in makefile
    ci = (ROOT / ".ci" / "run").read_text()
    assert "make .venv/.installed-dev" in ci and "torch==" not in ci
