"""Whole-day periods: a date in a URL or form is that day's UTC midnight."""

from datetime import UTC, date, datetime, time


def day_start(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=UTC)
