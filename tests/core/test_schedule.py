import pytest
from django.core.management import CommandError, call_command

from inferscope.celery import app
from inferscope.schedule import JOBS, beat_schedule


def test_every_job_names_a_registered_task():
    app.loader.import_default_modules()
    for job in JOBS:
        assert job.task in app.tasks, job


def test_every_entry_expires_within_its_period():
    schedule = beat_schedule()
    assert set(schedule) == {job.name for job in JOBS}
    for name, entry in schedule.items():
        assert 0 < entry["options"]["expires"] <= entry["schedule"], name


@pytest.mark.django_db
def test_runjobs_runs_the_enabled_jobs_in_order(capsys):
    call_command("runjobs")
    assert capsys.readouterr().out.startswith("expire_ingest_batches: deleted 0")


@pytest.mark.django_db
def test_runjobs_runs_a_named_job(capsys):
    call_command("runjobs", "expire_ingest_batches")
    assert capsys.readouterr().out == "expire_ingest_batches: deleted 0 ingest batch records\n"


def test_runjobs_names_the_known_jobs_when_given_an_unknown_one():
    with pytest.raises(CommandError, match="Unknown job 'nope'; known jobs: expire_ingest"):
        call_command("runjobs", "nope")
