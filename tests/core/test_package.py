"""The package a user installs: the wheel and the sdist carry every app with its
migrations, templates, static and data files, and the wheel alone, installed into a
fresh virtualenv outside the checkout, runs the server: init, web, log in, ingest."""

import http.cookiejar
import json
import re
import subprocess
import sys
import tarfile
import urllib.parse
import urllib.request
import zipfile
from pathlib import Path

import pytest
from django.apps import apps

from tests.builders.ingest import INGEST_URL, batch
from tests.core.processes import ROOT, embedded_env, free_port, stop, wait_until

pytestmark = pytest.mark.slow
UV = str(Path(sys.executable).with_name("uv"))


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    # uv builds the sdist, then the wheel from the sdist, as an index would.
    subprocess.run(
        [UV, "build", "--no-build-isolation", "--python", sys.executable, "-o", str(out), "."],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    return out


def project_files() -> set[str]:
    """Every file git tracks in the project's own apps (those under this checkout)."""
    local = [a.name for a in apps.get_app_configs() if Path(a.path).is_relative_to(ROOT)]
    listed = subprocess.run(
        ["git", "ls-files", *local], cwd=ROOT, capture_output=True, text=True, check=True
    )
    return set(listed.stdout.split())


def test_the_wheel_and_the_sdist_carry_every_app_and_its_files(dist):
    expected = project_files()
    assert {"economics/__init__.py", "inferscope/templates/base.html"} <= expected
    assert "costs/data/gpu_prices.csv" in expected
    assert any(name.startswith("inferscope/static/") for name in expected)
    assert any("/migrations/0001_" in name for name in expected)
    (wheel,) = dist.glob("*.whl")
    in_wheel = set(zipfile.ZipFile(wheel).namelist())
    assert sorted(expected - in_wheel) == []
    assert not [name for name in in_wheel if "__pycache__" in name or name.endswith(".pyc")]
    (sdist,) = dist.glob("*.tar.gz")
    with tarfile.open(sdist) as archive:
        in_sdist = {name.split("/", 1)[1] for name in archive.getnames() if "/" in name}
    assert sorted(expected - in_sdist) == []


def test_the_installed_wheel_serves_logs_in_and_ingests(dist, tmp_path):
    venv = tmp_path / "venv"
    python = str(venv / "bin" / "python")
    subprocess.run([UV, "venv", "-q", "--python", sys._base_executable, str(venv)], check=True)
    lock = str(ROOT / "requirements" / "base.txt")
    (wheel,) = dist.glob("*.whl")
    for args in (["--require-hashes", "-r", lock], [str(wheel)]):
        install = [UV, "pip", "install", "-q", "--python", python, "--no-deps", *args]
        subprocess.run(install, check=True)
    subprocess.run([UV, "pip", "check", "-q", "--python", python], check=True)

    port = free_port()
    env = embedded_env(tmp_path / "data", port)
    env.pop("VIRTUAL_ENV", None)
    env["PATH"] = f"{venv / 'bin'}:{env['PATH']}"
    home = tmp_path / "elsewhere"
    home.mkdir()

    def run(*argv: str) -> str:
        return subprocess.run(
            argv, cwd=home, env=env, capture_output=True, text=True, check=True
        ).stdout

    where = run(python, "-c", "import inferscope; print(inferscope.__file__)")
    assert Path(where.strip()).is_relative_to(venv), where
    password = re.search(r"shown only this once:\n\s+(\S+)", run("inferscope", "init")).group(1)
    token = run(python, "-m", "django", "create_agent", "packaged-agent").split()[-1]

    web = subprocess.Popen(["inferscope", "web"], cwd=home, env=env)
    try:
        site = f"http://127.0.0.1:{port}"
        wait_until(lambda: _answers(f"{site}/healthz"), 60, "/healthz")
        browser = _logged_in(site, password)
        with browser.open(f"{site}/") as page:
            assert page.status == 200 and "Log out" in page.read().decode()
        with browser.open(f"{site}/static/css/site.css") as css:
            assert css.status == 200
        request = urllib.request.Request(
            f"{site}{INGEST_URL}",
            data=json.dumps(batch()).encode(),
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            accepted = json.load(response)["accepted"]
        assert accepted == {"gpu_samples": 4, "inference_samples": 1}
    finally:
        web.terminate()
        try:
            web.wait(timeout=15)
        except subprocess.TimeoutExpired:
            stop(web)


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


def _logged_in(site: str, password: str) -> urllib.request.OpenerDirector:
    jar = http.cookiejar.CookieJar()
    browser = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    with browser.open(f"{site}/accounts/login/") as page:
        form = page.read().decode()
    csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form).group(1)
    data = urllib.parse.urlencode(
        {"username": "admin", "password": password, "csrfmiddlewaretoken": csrf}
    ).encode()
    request = urllib.request.Request(
        f"{site}/accounts/login/", data=data, headers={"Referer": f"{site}/accounts/login/"}
    )
    with browser.open(request) as response:
        assert response.url.rstrip("/") == site, response.url
    return browser
