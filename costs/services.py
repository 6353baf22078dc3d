"""Writes that touch more than one thing: a price change re-prices the past it covers."""

from datetime import date

from django.db import transaction

from inferscope.lib.timerange import day_start


def prices_changed(valid_from: date) -> None:
    """Queue the re-pricing of every hour from `valid_from` on, once the change commits."""
    from costs.tasks import recompute_since_task

    since = day_start(valid_from).isoformat()
    transaction.on_commit(lambda: recompute_since_task.delay(since))
