"""Fixed numbers of the cost engine (limits that vary per install live in settings)."""

from datetime import timedelta

# Cost figures are stored to the micro-dollar and shown to the cent.
USD_PLACES = 6
# A spans backlog is worked through this many hours per transaction, so one
# long outage replay does not hold a transaction for minutes.
ROLLUP_HOURS_PER_TRANSACTION = 6
# How much history shapes the day-of-week budget forecast.
FORECAST_HISTORY = timedelta(days=28)
