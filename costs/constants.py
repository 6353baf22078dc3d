"""Fixed numbers of the cost engine (limits that vary per install live in settings)."""

from datetime import timedelta

# Consecutive samples further apart than this do not count as the GPU being
# present in between: the agent, the node or the GPU was gone.
MAX_SAMPLE_GAP_S = 300.0
# No GPU draws more than this: a larger energy-counter step is a counter reset
# or a bug, and that interval falls back to power x time.
MAX_PLAUSIBLE_POWER_W = 3000.0
# NVML throttle reasons that slow the GPU down (SW power cap, HW slowdown, SW and
# HW thermal, power brake); idle and application-clock settings are not throttling.
THROTTLE_MASK = 0x4 | 0x8 | 0x40 | 0x80 | 0x100
# Cost figures are stored to the micro-dollar and shown to the cent.
USD_PLACES = 6
HOURS_PER_YEAR = 8766
HOURS_PER_MONTH = HOURS_PER_YEAR / 12
# A spans backlog is worked through this many hours per transaction, so one
# long outage replay does not hold a transaction for minutes.
ROLLUP_HOURS_PER_TRANSACTION = 6
# How much history shapes the day-of-week budget forecast.
FORECAST_HISTORY = timedelta(days=28)
