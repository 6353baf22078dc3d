"""`inferscope-profile`: a table, JSON, plain-line errors, and --post to a live server."""

import io
import json
import os
import subprocess
import sys

import pytest

from collectors.models import Node
from collectors.services import agent_create
from profiling.choices import JobSource, JobStatus
from profiling.models import ProfilingJob
from profiling.runner.cli import main, size

FAST = ["--preset", "tiny", "--batch", "1,2", "--prompt-len", "8", "--gen-len", "4",
        "--repeats", "2", "--warmup", "0", "--device", "cpu"]  # fmt: skip


@pytest.mark.slow  # a whole sweep on a real model: seconds even on the tiny preset
def test_it_prints_a_table_with_one_row_per_point():
    out = io.StringIO()
    assert main([*FAST, "--usd-per-hour", "2.5"], out) == 0
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("tiny (0.1M parameters) on ")
    assert "TTFT ms" in lines[1] and "$/1M tok" in lines[1]
    rows = lines[3:]
    assert len(rows) == 2
    assert all(" ok " in row for row in rows)


def test_json_output_is_the_whole_run(capsys):
    out = io.StringIO()
    assert main([*FAST, "--format", "json"], out) == 0
    run = json.loads(out.getvalue())
    assert run["total"] == 2 and len(run["points"]) == 2
    assert run["spec"]["batch_sizes"] == [1, 2]
    assert run["model"]["layers"] == 2


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--preset", "70b"], "preset: Unknown preset '70b'"),
        (["--batch", "0"], "batch-sizes: 0 is outside 1 to 4096."),
        (["--memory-limit", "lots"], "'lots' is not a size"),
        (["--model-path", "/nonexistent/model.pt"], "/nonexistent/model.pt does not exist"),
        (["--preset", "tiny", "--post", "http://127.0.0.1:9"], "--post needs --token"),
    ],
)
def test_bad_input_is_one_plain_line_and_exit_status_2(argv, message, capsys, monkeypatch):
    monkeypatch.delenv("INFERSCOPE_TOKEN", raising=False)
    assert main(argv, io.StringIO()) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("inferscope-profile: ")
    assert message in err
    assert len(err.splitlines()) == 1


def test_sizes_read_binary_units():
    assert size("2GiB") == 2 * 2**30
    assert size("512M") == 512 * 2**20
    assert size("4096") == 4096


@pytest.mark.slow
def test_the_runner_loads_without_django():
    code = (
        "import sys, profiling.runner.cli, profiling.runner.sweep;"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('django', 'rest_framework')];"
        "print(bad); sys.exit(1 if bad else 0)"
    )
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_post_sends_the_run_to_the_server_as_a_finished_job(live_server):
    agent, token = agent_create("gpu-7-agent")
    Node.objects.create(name="gpu-7", agent=agent)
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "profiling.runner",
            *FAST,
            "--post",
            live_server.url,
            "--token",
            token,
            "--node",
            "gpu-7",
        ],  # fmt: skip
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    job = ProfilingJob.objects.get()
    assert f"posted: {live_server.url}/profiling/{job.pk}/" in done.stderr
    assert (job.status, job.source, job.node.name) == (JobStatus.DONE, JobSource.CLI, "gpu-7")
    assert job.results.count() == 2 == job.points_done
    assert job.device["type"] == "cpu"
    assert job.results.get(index=1).batch_size == 2


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_post_to_a_node_of_another_agent_is_refused_in_one_line(live_server):
    owner, _ = agent_create("owner-agent")
    Node.objects.create(name="gpu-8", agent=owner)
    _, token = agent_create("other-agent")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "profiling.runner",
            *FAST,
            "--post",
            live_server.url,
            "--token",
            token,
            "--node",
            "gpu-8",
        ],  # fmt: skip
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    assert "the server answered 400" in done.stderr
    assert "does not own node 'gpu-8'" in done.stderr
    assert not ProfilingJob.objects.exists()


@pytest.mark.parametrize("amount", ["nan", "-1", "inf", "two"])
def test_a_price_must_be_an_amount(amount, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--preset", "tiny", "--usd-per-hour", amount], io.StringIO())
    assert exit_.value.code == 2
    assert "--usd-per-hour" in capsys.readouterr().err


def test_mig_slices_get_no_peak_rather_than_the_whole_cards():
    from vocab.gpus import peak_for

    assert peak_for("NVIDIA H100 80GB HBM3")[1].bf16 == 989.4
    model, peak = peak_for("NVIDIA A100-SXM4-80GB MIG 3g.40gb")
    assert (model, peak) == ("A100 80GB", None)
