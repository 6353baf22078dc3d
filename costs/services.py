"""Writes that touch more than one thing: a price change re-prices the past it covers."""

from datetime import UTC, date, datetime, time

from django.db import transaction


def prices_changed(valid_from: date) -> None:
    """Queue the re-pricing of every hour from `valid_from` on, once the change commits."""
    from costs.tasks import recompute_since_task

    since = datetime.combine(valid_from, time(), tzinfo=UTC).isoformat()
    transaction.on_commit(lambda: recompute_since_task.delay(since))
