import pytest
from django.core.management import CommandError, call_command

from inferscope.celery import app
from inferscope.schedule import JOBS, beat_schedule


def test_every_job_names_a_registered_task():
    app.loader.import_default_modules()
    for job in JOBS:
        assert job.task in app.tasks, job


def test_every_entry_expires_within_its_period():
    schedule = beat_schedule({"INFERSCOPE_SIMULATE": True, "SIMULATE_INTERVAL_SECONDS": 5})
    assert set(schedule) == {job.name for job in JOBS}
    for name, entry in schedule.items():
        assert 0 < entry["options"]["expires"] <= entry["schedule"], name
    assert schedule["simulate"]["schedule"] == 5


def test_optional_jobs_are_left_out_unless_enabled():
    assert "simulate" not in beat_schedule({"INFERSCOPE_SIMULATE": False})


@pytest.mark.django_db
def test_runjobs_runs_the_enabled_jobs_in_order(capsys, settings):
    settings.INFERSCOPE_SIMULATE = False
    call_command("runjobs")
    out = capsys.readouterr().out
    assert out.startswith("expire_ingest_batches: deleted 0")
    assert "simulate" not in out


@pytest.mark.django_db
def test_runjobs_runs_a_named_job(capsys, settings):
    settings.SIMULATE_BACKFILL_HOURS = 0
    call_command("runjobs", "simulate")
    assert "simulate: simulated 12 samples in 1 batches" in capsys.readouterr().out


def test_runjobs_names_the_known_jobs_when_given_an_unknown_one():
    with pytest.raises(CommandError, match="Unknown job 'nope'; known jobs: simulate"):
        call_command("runjobs", "nope")
