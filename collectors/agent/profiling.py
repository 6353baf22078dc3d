"""Profiling jobs: take a queued sweep from the server, run `profiling.runner` in a
subprocess under a time limit, and report its progress and points as they come.

The node's configuration has the last word: the server checks a job against the
capabilities we report, and the spec is checked here again before anything runs.
What protects a node that also serves is enforced here too, whatever the job asks:
the node's memory cap goes into the spec the runner reads, the runner sees only the
GPUs the node allows, and the kernel's OOM killer picks the runner first.
"""

import contextlib
import json
import logging
import os
import queue
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from collectors.agent.backoff import jittered, with_retries
from collectors.agent.config import Config
from collectors.agent.profiling_node import (
    JobClient,
    capped,
    choose_gpus,
    gpu_devices,
    refusal,
    torch_version,
)
from vocab.sweeps import SweepSpec

logger = logging.getLogger(__name__)
KILL_GRACE_S = 5.0
MAX_ERROR_CHARS = 2000  # the server keeps this much of a job's error


@dataclass(frozen=True)
class Outcome:
    """What one poll did: off, error (no answer or refused), idle, or how its job
    ended (done, failed, cancelled) and why it failed."""

    status: str
    job_id: int | None = None
    error: str = ""


class ProfilingWorker:
    """One job at a time: in a thread beside collection (start/join), or one poll
    synchronously through poll_once()."""

    report_every_s = 2.0  # points go in batches, at most this often
    heartbeat_s = 10.0  # a report without new points, to hear of a cancel in a long point
    attempts = 4  # tries of a final report, backing off exponentially from backoff_s
    backoff_s = 1.0
    # What runs a job, before `--spec-file SPEC --format jsonl`. Tests swap in a stand-in
    # to write what the real runner never does.
    runner = [sys.executable, "-m", "profiling.runner"]

    def __init__(self, config: Config, client: JobClient) -> None:
        self.config = config
        self.client = client
        self.stop = threading.Event()
        self.process: subprocess.Popen[str] | None = None  # the latest runner
        self.torch = torch_version() if config.profiling_enabled else None
        self.enabled = config.profiling_enabled and self.torch is not None
        if config.profiling_enabled and self.torch is None:
            logger.warning("profiling jobs are off: torch is not installed here")
        self._devices: list[dict[str, Any]] | None = None  # the GPUs jobs may use
        self._thread: threading.Thread | None = None
        self._failing = False
        self._refusal = ""  # the server's answer to the latest report it refused

    def devices(self) -> list[dict[str, Any]]:
        """The GPUs jobs may use, read once. A GPU of `profiling_gpu` that this node
        lacks turns profiling off: a sweep must never land on a GPU no one chose."""
        if self._devices is None:
            try:
                self._devices = choose_gpus(gpu_devices(), self.config.profiling_gpus)
            except ValueError as exc:
                logger.warning("profiling jobs are off: %s", exc)
                self._devices, self.enabled = [], False
        return self._devices

    def capabilities(self) -> dict[str, Any]:
        return {
            "presets": self.config.profiling_presets,
            "model_paths": self.config.profiling_model_paths,
            "devices": self.devices(),
            "torch_version": self.torch or "",
            "max_time_limit_s": int(self.config.profiling_max_time_s),
            "memory_limit_bytes": self.config.profiling_memory_limit_bytes,
        }

    def runner_env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k != "INFERSCOPE_TOKEN"}  # not its to use
        if self.config.profiling_gpus:
            # By UUID: CUDA numbers devices fastest first unless told otherwise, NVML
            # (and nvidia-smi, and the index a person writes) by PCI bus.
            env["CUDA_VISIBLE_DEVICES"] = ",".join(d["uuid"] for d in self.devices())
        return env

    def poll_once(self) -> Outcome:
        if self.enabled:
            self.devices()  # a profiling GPU this node lacks turns profiling off
        if not self.enabled:
            return Outcome("off")
        answer = self.client.post(
            "poll", {"node": self.config.node, "capabilities": self.capabilities()}
        )
        if not answer.ok:
            # Logged once per outage; the first polls may come before the first batch
            # made this agent the node's owner.
            if not self._failing:
                logger.warning("profiling poll failed (%s): %s", answer.status, answer.text[:300])
            self._failing = True
            return Outcome("error", error=answer.text[:300])
        self._failing = False
        job = _object(answer.text).get("job")
        return self.run_job(job) if isinstance(job, dict) else Outcome("idle")

    def run_job(self, job: dict[str, Any]) -> Outcome:
        job_id = int(job["id"])
        try:
            return self._run(job_id, job)
        except Exception as exc:  # e.g. no runner to start: still, the job must end
            logger.exception("profiling job %d: the agent failed to run it", job_id)
            return self._fail(job_id, {}, exc)

    def _fail(self, job_id: int, report: dict[str, Any], exc: Exception) -> Outcome:
        error = f"the agent failed while running the job: {type(exc).__name__}: {exc}"
        failed = {**report, "status": "failed", "error": error[:MAX_ERROR_CHARS]}
        return self._finish(job_id, failed, self.attempts)

    def _run(self, job_id: int, job: dict[str, Any]) -> Outcome:
        why = refusal(job.get("spec"), self.config)
        if why:
            return self._finish(job_id, {"status": "failed", "error": why}, self.attempts)
        self.devices()
        if not self.enabled:
            error = "profiling is off on this node: see the agent's log"
            return self._finish(job_id, {"status": "failed", "error": error}, self.attempts)
        spec = capped(job["spec"], self.config.profiling_memory_limit_bytes)
        total = len(SweepSpec.from_dict(spec).settings())
        limit = min(float(job.get("time_limit_s") or 1e9), self.config.profiling_max_time_s)
        memory = spec.get("memory_limit_bytes")
        logger.info(
            "profiling job %d: starting, time limit %g s, memory limit %s",
            job_id, limit, f"{memory} bytes" if memory else "none",
        )  # fmt: skip
        with tempfile.TemporaryDirectory(prefix="inferscope-profile-") as folder:
            spec_file = Path(folder, "spec.json")
            spec_file.write_text(json.dumps(spec))
            with open(Path(folder, "stderr"), "w+", errors="replace") as stderr:
                return self._supervise(job_id, spec_file, stderr, limit, total)

    def _supervise(
        self, job_id: int, spec_file: Path, stderr: IO[str], limit: float, total: int
    ) -> Outcome:
        command = [*self.runner, "--spec-file", str(spec_file), "--format", "jsonl"]
        # Its own process group: a kill takes what it started too, and a Ctrl-C in the
        # agent's terminal reaches only the agent. Its output is decoded leniently: one
        # stray byte must not cost the rest of it.
        process = self.process = subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=stderr,
            encoding="utf-8", errors="replace", env=self.runner_env(), start_new_session=True,
        )  # fmt: skip
        _oom_first(process.pid)
        report: dict[str, Any] = {"status": "running", "points": []}
        try:
            return self._watch(job_id, process, stderr, limit, total, report)
        except Exception as exc:
            # Whatever went wrong here, the runner must not go on unwatched, nor the
            # job look running on the server until it expires.
            logger.exception("profiling job %d: the agent failed while running it", job_id)
            _kill(process)
            return self._fail(job_id, report, exc)
        finally:
            _kill(process)  # at once when it is gone; else its group, leftovers too

    def _watch(
        self,
        job_id: int,
        process: "subprocess.Popen[str]",
        stderr: IO[str],
        limit: float,
        total: int,
        report: dict[str, Any],
    ) -> Outcome:
        lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=_pump, args=(process.stdout, lines), daemon=True).start()
        deadline = time.monotonic() + limit
        done, finished, last_report = 0, False, time.monotonic()

        def late() -> str:
            return f"time limit of {limit:g} s reached after {done} of {total} points"

        while (line := _next(lines, deadline - time.monotonic())) is not None:
            now = time.monotonic()
            why = "agent stopped" if self.stop.is_set() else late() if now >= deadline else ""
            if why:
                _kill(process)
                attempts = 1 if self.stop.is_set() else self.attempts  # be quick on the way out
                return self._finish(job_id, {**report, "status": "failed", "error": why}, attempts)
            event = _object(line)
            if event.get("event") == "start":
                total = report["total"] = _total(event.get("total"), total, job_id)
                _describe(report, "device", event.get("device"))
                _describe(report, "model", event.get("model"))
            elif event.get("event") == "point":
                if _point_ok(event.get("point"), total):
                    report["points"].append(event["point"])
                    done += 1
                else:
                    logger.warning(
                        "profiling job %d: ignored a malformed point: %.300s", job_id, line
                    )
            elif event.get("event") == "done":
                _describe(report, "model", event.get("model"))
                finished = True
            since = time.monotonic() - last_report
            due = report["points"] and since >= self.report_every_s
            if event.get("event") == "start" or due or since >= self.heartbeat_s:
                status = self._report(job_id, report, attempts=1)  # the next one resends
                last_report = time.monotonic()
                if status is not None:
                    report["points"] = []  # stored (or refused for good): not sent again
                if status == "refused":  # what made it so is not sent again either
                    report.pop("device", None)
                    report.pop("model", None)
                if status in ("cancelled", "failed"):
                    _kill(process)
                    logger.info("profiling job %d: %s on the server; runner killed", job_id, status)
                    return Outcome(str(status), job_id)
        error = ""
        try:
            process.wait(max(deadline - time.monotonic(), 0.1))
        except subprocess.TimeoutExpired:  # its output closed, but it lives on
            _kill(process)
            error = late()
        if not error and process.returncode == 0 and finished:
            return self._finish(job_id, {**report, "status": "done"}, self.attempts)
        stderr.seek(0)
        last = [text for text in stderr.read().splitlines() if text.strip()][-1:]
        error = error or (last[0] if last else f"the runner exited with {process.returncode}")
        error = error[:MAX_ERROR_CHARS]
        return self._finish(job_id, {**report, "status": "failed", "error": error}, self.attempts)

    def _finish(self, job_id: int, report: dict[str, Any], attempts: int) -> Outcome:
        answer = self._report(job_id, report, attempts)
        if answer == "refused" and set(report) - {"status", "error"}:
            # Something the runner wrote (a point, its device) kept the job from ending
            # on the server; end it there without it, rather than leave it running.
            error = f"the server refused the runner's report: {self._refusal}"
            report = {"status": "failed", "error": error[:MAX_ERROR_CHARS]}
            answer = self._report(job_id, report, attempts)
        # When the server did not take the report, the outcome is how it ended here.
        status = str(report["status"] if answer in (None, "refused") else answer)
        logger.info("profiling job %d: %s %s", job_id, status, report.get("error", ""))
        return Outcome(status, job_id, report.get("error", ""))

    def _report(self, job_id: int, body: dict[str, Any], attempts: int) -> str | None:
        """The job's status on the server after this report; "refused" when the server
        will never take it; None when it did not get there."""
        answer = with_retries(
            lambda: self.client.post(f"jobs/{job_id}/report", body),
            attempts,
            self.backoff_s,
            self.stop.wait,  # a stop cuts a wait short
        )
        if answer.ok:
            return str(_object(answer.text).get("status") or body["status"])
        if not answer.retryable:
            logger.error("profiling job %d: report refused: %s", job_id, answer.text[:500])
            self._refusal = answer.text[:500]
            return "refused"
        logger.warning("profiling job %d: cannot report (%s)", job_id, answer.status or answer.text)
        return None

    def start(self, stop: threading.Event) -> None:
        if self.enabled:
            self.stop = stop
            self._thread = threading.Thread(target=self._loop, name="profiling", daemon=True)
            self._thread.start()

    def _loop(self) -> None:
        while not self.stop.is_set():
            try:
                outcome = self.poll_once()
            except Exception:  # the agent outlives any one job
                logger.exception("profiling poll failed")
                outcome = Outcome("error")
            if outcome.job_id is None:  # after a job, ask again at once: more may wait
                self.stop.wait(jittered(self.config.profiling_poll_s))

    def join(self, timeout: float = 15.0) -> None:
        if self._thread is not None:
            self._thread.join(timeout)


def _pump(stream: IO[str], into: "queue.Queue[str | None]") -> None:
    try:
        for line in stream:
            into.put(line)
    except Exception:  # noqa: BLE001 - the watcher must hear of the end however it came
        logger.warning("profiling: cannot read the runner's output", exc_info=True)
    finally:
        into.put(None)  # end of output


def _oom_first(pid: int) -> None:
    """Make the runner the OOM killer's first choice (Linux), so that a node that runs
    out of memory loses the sweep, never the inference server beside it."""
    with contextlib.suppress(OSError):  # not Linux, or it is gone already
        Path(f"/proc/{pid}/oom_score_adj").write_text("1000")


def _total(value: Any, current: int, job_id: int) -> int:
    if value is None:
        return current
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        logger.warning("profiling job %d: ignored a malformed total: %.100r", job_id, value)
        return current
    return value


def _point_ok(point: Any, total: int) -> bool:
    """Enough of a point to report it: an object with an index inside the sweep (the
    server checks the rest, and one point past the total would have it refuse the
    whole report)."""
    if not isinstance(point, dict):
        return False
    index = point.get("index")
    return isinstance(index, int) and not isinstance(index, bool) and 0 <= index < total


def _describe(report: dict[str, Any], key: str, value: Any) -> None:
    """The runner's device or model description into the report, when it gave one."""
    if isinstance(value, dict) and value:
        report[key] = value
    elif value is not None:
        logger.warning("profiling: ignored a malformed %s: %.100r", key, value)


def _next(lines: "queue.Queue[str | None]", wait_s: float) -> str | None:
    """The runner's next line, "" when none came within a moment, None at its end."""
    try:
        return lines.get(timeout=min(0.2, max(wait_s, 0.001)))
    except queue.Empty:
        return ""


def _object(text: str) -> dict[str, Any]:
    # A line that is not an object: a stray print from a library, not a runner event.
    try:
        data = json.loads(text)
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _kill(process: "subprocess.Popen[str]") -> None:
    """SIGTERM to the runner's whole group, then SIGKILL to whatever is left."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(KILL_GRACE_S)
        except subprocess.TimeoutExpired:
            continue
