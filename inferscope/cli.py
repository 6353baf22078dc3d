"""`inferscope web|worker|alerts-worker|beat|init|run`: the commands that make run and
docker-compose.yml both use, so the two cannot drift apart."""

import os
import shutil
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence

from inferscope.lib.paths import FIRST_LOGIN_FILE, data_dir
from inferscope.supervise import STOP_GRACE_SECONDS, supervise, terminate_with_parent

# The long-running processes: `inferscope run` starts all three; docker-compose
# runs each as its own service with the same argv.
PROCESSES: dict[str, list[str]] = {
    "web": ["inferscope", "web"],
    "worker": ["inferscope", "worker"],
    "alerts-worker": ["inferscope", "alerts-worker"],
    "beat": ["inferscope", "beat"],
}
# Only `make run` starts an agent beside the server; in production agents run on
# the GPU nodes (deploy/), not in the central stack.
LOCAL_AGENT = ["inferscope", "agent"]


def _manage(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "django", *args], check=True)


def _program(name: str) -> str:
    """The console script installed beside this Python (the virtualenv's), else PATH's."""
    search = os.pathsep.join([os.path.dirname(sys.executable), os.environ.get("PATH", "")])
    return shutil.which(name, path=search) or name


def _exec(argv: list[str]) -> None:
    sys.stdout.flush()
    program = _program(argv[0])
    os.execv(program, [program, *argv[1:]])


def web() -> None:
    port = os.environ.get("PORT", "8000")
    # Not HOST: some shells export HOST as the machine's name.
    host = os.environ.get("WEB_HOST", "127.0.0.1")
    # A line per request only at DEBUG: the agent posts every few seconds, and
    # Django's own log still shows every 4xx and 5xx.
    debug = os.environ.get("LOG_LEVEL", "INFO").upper() == "DEBUG"
    _exec(
        [
            "gunicorn",
            "inferscope.wsgi:application",
            "--bind",
            f"{host}:{port}",
            "--workers",
            os.environ.get("WEB_CONCURRENCY", "2"),
            *(["--access-logfile", "-"] if debug else []),
            # Inside the supervisor's grace, so in-flight requests finish first.
            "--graceful-timeout",
            str(STOP_GRACE_SECONDS - 1),
            # Longer than SQLite's 30 s busy timeout, so a request waiting for the
            # write lock can still answer 503 rather than be killed.
            "--timeout",
            "60",
        ]
    )


def worker() -> None:
    _exec(
        [
            "celery",
            "-A",
            "inferscope",
            "worker",
            "--loglevel",
            "INFO",
            "--concurrency",
            os.environ.get("WORKER_CONCURRENCY", "2"),
            # The alerts queue too, so alerts flow even where no alerts worker runs.
            "--queues",
            "celery,alerts",
        ]
    )


def alerts_worker() -> None:
    """Alert evaluation and delivery only, so an hour-long job on the main worker never
    delays an alert past its minute. Threads: the work waits on the network."""
    _exec(
        [
            "celery",
            "-A",
            "inferscope",
            "worker",
            "--loglevel",
            "INFO",
            "--queues",
            "alerts",
            "--hostname",
            "alerts@%h",
            "--pool",
            "threads",
            "--concurrency",
            os.environ.get("ALERTS_WORKER_CONCURRENCY", "4"),
        ]
    )


def beat() -> None:
    _exec(["celery", "-A", "inferscope", "beat", "--loglevel", "INFO"])


def init(local_agent: bool = False) -> None:
    _manage("migrate", "--no-input")
    _manage("collectstatic", "--no-input", "--verbosity", "0")
    _manage("bootstrap", *(["--local-agent"] if local_agent else []))


def _has_gpu() -> bool:
    try:
        from collectors.agent.nvml import NvmlSource, NvmlUnavailable
    except ImportError:  # the agent extra is not installed
        return False
    try:
        NvmlSource().close()
    except NvmlUnavailable:
        return False
    return True


def agent() -> None:
    """The agent beside the server: real NVML when there is a GPU, else the
    simulated fleet with a day of history so a fresh demo has full charts."""
    data = data_dir()
    sources = ["--source", "nvml"] if _has_gpu() else ["--source", "simulated", "--backfill", "24h"]
    _exec(
        [
            "inferscope-agent",
            "--server-url",
            f"http://127.0.0.1:{os.environ.get('PORT', '8000')}",
            "--token-file",
            str(data / "agent-token"),
            "--spool-dir",
            str(data / "agent-spool"),
            "--interval",
            os.environ.get("AGENT_INTERVAL", "10s"),
            *sources,
        ]
    )


def run() -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "inferscope.settings")
    # `make run` execs us: when make is stopped or killed, so are we, and so the server.
    terminate_with_parent()
    local_agent = os.environ.get("INFERSCOPE_LOCAL_AGENT", "1") != "0"
    init(local_agent=local_agent)
    port = os.environ.get("PORT", "8000")
    url = f"http://127.0.0.1:{port}/"
    print(f"Inferscope is starting on {url} (Ctrl-C stops it).", flush=True)
    processes = dict(PROCESSES)
    if local_agent:
        processes["agent"] = LOCAL_AGENT
    return supervise(processes, program=_program, on_started=lambda: _say_ready(url))


def _answers(url: str) -> bool:
    try:
        urllib.request.urlopen(url, timeout=1).close()
    except urllib.error.HTTPError:
        return True  # a 503: the broker or database is not up yet, and /healthz says which
    except OSError:
        return False
    return True


def _say_ready(url: str) -> bool:
    """Once the web server answers, the last startup line: where to log in."""
    if not _answers(f"{url}healthz"):
        return False
    first_login = data_dir() / FIRST_LOGIN_FILE
    login = (
        f"log in as admin with the password in {first_login}"
        if first_login.exists()
        else "log in with your account"
    )
    print(f"Inferscope is ready at {url}: {login} (Ctrl-C stops it).", flush=True)
    return True


COMMANDS: dict[str, Callable[[], int | None]] = {
    "web": web,
    "worker": worker,
    "alerts-worker": alerts_worker,
    "beat": beat,
    "agent": agent,
    "init": init,
    "run": run,
}


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 1 or args[0] not in COMMANDS:
        print(f"usage: inferscope {{{'|'.join(COMMANDS)}}}", file=sys.stderr)
        return 2
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "inferscope.settings")
    return COMMANDS[args[0]]() or 0


if __name__ == "__main__":
    sys.exit(main())
