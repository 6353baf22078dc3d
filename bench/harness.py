"""What the bench scripts share: a throw-away PostgreSQL database, the project's
management commands, and a gunicorn server of the project on a free port."""

from __future__ import annotations

import argparse
import contextlib
import http.client
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

REPO_ROOT = Path(__file__).resolve().parent.parent


def database_name(url: str) -> str:
    name = conninfo_to_dict(url).get("dbname")
    if not name:
        raise SystemExit(f"--database-url must name a database: {url}")
    return str(name)


def admin_conninfo(url: str) -> str:
    return make_conninfo(url, dbname="postgres")


def recreate_database(url: str) -> None:
    name = database_name(url)
    if "bench" not in name:
        raise SystemExit(f"Refusing to drop and recreate {name!r}: its name must contain 'bench'.")
    with psycopg.connect(admin_conninfo(url), autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def drop_database(url: str) -> None:
    name = database_name(url)
    with psycopg.connect(admin_conninfo(url), autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


def database_arguments(parser: argparse.ArgumentParser, default_url: str) -> None:
    """--database-url and --keep-db, for the scripts that make a database of their own."""
    parser.add_argument("--database-url", default=default_url, help="bench database")
    parser.add_argument("--keep-db", action="store_true", help="leave the bench database behind")


@contextlib.contextmanager
def django_on_new_database(url: str, keep: bool = False) -> Iterator[None]:
    """A new, migrated database at url, with Django set up on it in this process; dropped
    on the way out unless keep."""
    recreate_database(url)
    set_up = False
    try:
        manage({**os.environ, "DATABASE_URL": url, "DEBUG": "0"}, "migrate", "--no-input")
        os.environ.update(DATABASE_URL=url, DJANGO_SETTINGS_MODULE="inferscope.settings")
        os.chdir(REPO_ROOT)
        import django

        django.setup()
        set_up = True
        yield
    finally:
        if not keep:
            if set_up:
                # DROP ... WITH (FORCE) would end them anyway; closing first is cleaner.
                from django.db import connections

                connections.close_all()
            drop_database(url)


def checkpoint(url: str) -> None:
    """Flush dirty pages so a phase does not pay for the previous one's checkpoint."""
    with contextlib.suppress(psycopg.Error), psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CHECKPOINT")


def count_rows(url: str, table: str) -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute(
            sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table))
        ).fetchone()
        return int(row[0]) if row else 0


def child_env(url: str, data_dir: Path) -> dict[str, str]:
    (data_dir / "static").mkdir(exist_ok=True)  # STATIC_ROOT: whitenoise warns if missing
    env = dict(os.environ)
    for name in ("CELERY_BROKER_URL", "CELERY_RESULT_BACKEND"):
        env.pop(name, None)
    env.update(
        DATABASE_URL=url,
        INFERSCOPE_DATA_DIR=str(data_dir),
        DJANGO_SETTINGS_MODULE="inferscope.settings",
        DEBUG="0",
        LOG_LEVEL="WARNING",
        PYTHONUNBUFFERED="1",
    )
    return env


def manage(env: dict[str, str], *args: str, root: Path = REPO_ROOT) -> str:
    proc = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
    )
    if proc.returncode != 0:
        raise SystemExit(f"manage.py {' '.join(args)} failed:\n{proc.stdout}{proc.stderr}")
    return proc.stdout


def create_agent_token(env: dict[str, str]) -> str:
    out = manage(env, "create_agent", "bench-agent")
    for line in out.splitlines():
        if line.strip().startswith("isa_"):
            return line.strip()
    raise SystemExit(f"create_agent printed no token:\n{out}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def gunicorn_path() -> str:
    local = Path(sys.executable).with_name("gunicorn")
    found = str(local) if local.exists() else shutil.which("gunicorn")
    if not found:
        raise SystemExit("gunicorn not found: run from the project's virtualenv")
    return found


@contextlib.contextmanager
def gunicorn(env: dict[str, str], workers: int, log: Path, root: Path = REPO_ROOT) -> Iterator[int]:
    """gunicorn serving the project found at root (gunicorn puts its cwd first on sys.path)."""
    port = free_port()
    cmd = [
        gunicorn_path(),
        "inferscope.wsgi:application",
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        str(workers),
        "--access-logfile",
        "-",
        "--graceful-timeout",
        "10",
    ]
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, cwd=root, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_healthy(port, proc, log)
        yield port
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def wait_healthy(port: int, proc: subprocess.Popen[bytes], log: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    last = ""
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"gunicorn exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request("GET", "/healthz")
            resp = conn.getresponse()
            last = f"{resp.status} {resp.read()[:200]!r}"
            conn.close()
            if resp.status == 200:
                return
        except OSError as exc:
            last = repr(exc)
        time.sleep(0.2)
    raise SystemExit(
        f"gunicorn not healthy after {timeout:.0f} s: {last}\n{log.read_text()[-3000:]}"
    )
