import os
import subprocess
import sys

import pytest
from celery.app.defaults import NAMESPACES, flatten
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from inferscope.lib.env import env_bool, env_int, env_list, env_secret


def test_env_bool_reads_the_usual_spellings(monkeypatch):
    for raw, expected in [("1", True), ("yes", True), ("TRUE", True), ("0", False), ("off", False)]:
        monkeypatch.setenv("X_FLAG", raw)
        assert env_bool("X_FLAG") is expected
    monkeypatch.delenv("X_FLAG")
    assert env_bool("X_FLAG", True) is True


def test_env_bool_refuses_a_typo(monkeypatch):
    monkeypatch.setenv("X_FLAG", "ture")
    with pytest.raises(ImproperlyConfigured, match="X_FLAG"):
        env_bool("X_FLAG")


def test_env_int_refuses_text_and_values_under_the_minimum(monkeypatch):
    monkeypatch.setenv("X_NUM", "ten")
    with pytest.raises(ImproperlyConfigured, match="not an integer"):
        env_int("X_NUM", 1)
    monkeypatch.setenv("X_NUM", "0")
    with pytest.raises(ImproperlyConfigured, match="at least 1"):
        env_int("X_NUM", 5, minimum=1)
    monkeypatch.setenv("X_NUM", "7")
    assert env_int("X_NUM", 5, minimum=1) == 7


def test_env_secret_reads_a_file(monkeypatch, tmp_path):
    secret = tmp_path / "key"
    secret.write_text("s3cret\n")
    monkeypatch.setenv("X_SECRET_FILE", str(secret))
    assert env_secret("X_SECRET") == "s3cret"
    monkeypatch.setenv("X_SECRET_FILE", str(tmp_path / "missing"))
    with pytest.raises(ImproperlyConfigured, match="cannot be read"):
        env_secret("X_SECRET")


def test_env_list_splits_and_trims(monkeypatch):
    monkeypatch.setenv("X_LIST", " a.example, b.example ,,")
    assert env_list("X_LIST") == ["a.example", "b.example"]


def test_every_celery_setting_is_one_celery_knows():
    # Django ignores an unknown setting silently; a misspelt Celery option would
    # quietly fall back to Celery's default.
    known = {key for key, _ in flatten(NAMESPACES)}
    ours = [name for name in dir(settings) if name.startswith("CELERY_")]
    assert ours
    unknown = [name for name in ours if name[len("CELERY_") :].lower() not in known]
    assert unknown == []


def test_the_embedded_default_never_runs_tasks_eagerly():
    assert not getattr(settings, "CELERY_TASK_ALWAYS_EAGER", False)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("env", "site_url"),
    [
        ({"PORT": "8201"}, "http://localhost:8201"),
        ({}, "http://localhost:8000"),
        ({"PORT": "8201", "SITE_URL": "https://scope.example"}, "https://scope.example"),
    ],
)
def test_site_url_follows_the_port_when_unset(env, site_url):
    # Settings are read once per process: read them in a fresh one.
    base = {k: v for k, v in os.environ.items() if k not in ("PORT", "SITE_URL")}
    code = "from django.conf import settings; print(settings.SITE_URL)"
    result = subprocess.run(
        [sys.executable, "-c", code],
        env={**base, **env, "DJANGO_SETTINGS_MODULE": "inferscope.settings"},
        capture_output=True,
        text=True,
        check=True,
    )
    assert result.stdout.strip() == site_url
