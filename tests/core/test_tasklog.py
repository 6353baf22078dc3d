"""A periodic task logs one line when it did something and none when it did not."""

import logging

import pytest
from celery.signals import task_success

from alerts.tasks import evaluate_task
from inferscope.lib.tasklog import did_something


@pytest.mark.parametrize(
    ("summary", "logged"),
    [
        ("wrote 0 alert events", False),
        ("deleted 0 alert events, 0 deliveries", False),
        ("wrote 2 alert events", True),
        ("deleted 0 alert events, 3 deliveries", True),
        ("3 found, 0 new, 0 no longer hold", True),
        ("delivery 12: sent", True),
    ],
)
def test_a_summary_with_only_zero_counts_means_nothing_was_done(summary, logged):
    assert did_something(summary) is logged


def test_a_task_that_did_something_logs_its_summary_once(caplog):
    with caplog.at_level(logging.INFO, logger="inferscope.tasks"):
        task_success.send(sender=evaluate_task, result="wrote 0 alert events")
        task_success.send(sender=evaluate_task, result="wrote 2 alert events")
    lines = [r.getMessage() for r in caplog.records if r.name == "inferscope.tasks"]
    assert lines == ["alerts.evaluate: wrote 2 alert events"]


@pytest.mark.slow
def test_celery_logs_no_line_per_task_run_at_info():
    for name in ("celery.app.trace", "celery.worker.strategy", "celery.beat"):
        assert not logging.getLogger(name).isEnabledFor(logging.INFO), name
        assert logging.getLogger(name).isEnabledFor(logging.WARNING), name
