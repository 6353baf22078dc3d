"""Default thresholds and windows of the detectors (a detector's config can override each)."""

# Rolling z-score: the cold-start fallback and the benchmark baseline.
ZSCORE_WINDOW = 60  # points
ZSCORE_THRESHOLD = 3.0
ZSCORE_MIN_POINTS = 10  # fewer earlier points than this: no verdict yet

# Seasonal detector. Thresholds are in units of the expected spread (a robust sigma).
SEASONAL_POINT_THRESHOLD = 6.0  # one point this far off: spike or dip
SEASONAL_SHIFT_THRESHOLD = 4.5  # median of the last SHORT_WINDOW points: level shift
SEASONAL_DRIFT_THRESHOLD = 3.0  # median of the last LONG_WINDOW points: drift
SEASONAL_SHORT_WINDOW = 7  # points; longer than any spike, so spikes never look sustained
SEASONAL_LONG_WINDOW = 60  # points
SEASONAL_LOCAL_WINDOW = 15  # points before a spike or dip that set its local level
# A spike is measured in noise, never less than this share of the full spread
# (noise from successive differences can read near zero on a quantised series).
SEASONAL_NOISE_SHARE = 0.25
# A sustained deviation counts as a level shift when at least this share of it
# appeared within SHORT_WINDOW points; otherwise it crept up and is a drift.
SEASONAL_STEP_SHARE = 0.6
SEASONAL_STUCK_POINTS = 10  # identical values in a row, where the series normally varies
SEASONAL_MISSING_POINTS = 5  # missing values in a row (or a time gap this many intervals long)
# How far back the profile looks: up to this many earlier days of the same type
# (weekday or weekend), and this many earlier weeks for the hour-of-week profile.
SEASONAL_PROFILE_DAYS = 5
SEASONAL_PROFILE_WEEKS = 3
SEASONAL_MIN_WEEKS = 2  # earlier weeks needed before the hour-of-week profile is used
# The level (trend) term: median residual of hours [now - LEVEL_HOURS - LEVEL_LAG, now - LEVEL_LAG).
# The lag keeps a new shift or drift from being absorbed before it is reported.
SEASONAL_LEVEL_HOURS = 72
SEASONAL_LEVEL_LAG_HOURS = 7
SEASONAL_CALIBRATION_HOURS = 168  # the profile's own recent errors widen its band
# Relative floor of the spread, so a series that barely moves does not flag rounding noise.
SEASONAL_MIN_RELATIVE_SPREAD = 0.002

# Sensitivity per metric and entity: bounds any value must stay within (the
# admin's validators, the job's clamp), and how false positives lower it.
MIN_SENSITIVITY = 0.05
MAX_SENSITIVITY = 20.0
FALSE_POSITIVE_FACTOR = 0.8  # each false positive multiplies the sensitivity by this
FALSE_POSITIVE_FLOOR = 0.25  # ... but false positives alone never take it below this

# The seasonal detector at one point an hour (the scoring job's cost series;
# `anomaly_score --hourly`): windows in hours, each bucket read at its centre,
# and (no within-hour noise to measure) the day-to-day spread as the noise a
# single hour is judged by, pooled over the last day because each hour's own
# rests on a handful of values. That spread is still rough, so the thresholds
# are higher: on 20 synthetic months of hourly spend they left 3 false hours in
# all and caught 19-20 of 20 spikes, dips, level shifts, drifts and gaps (the
# rolling z-score caught only the spikes).
HOURLY_SEASONAL: dict[str, float] = {
    "pooled_spread": 1,
    "point_threshold": 8,
    "shift_threshold": 6,
    "drift_threshold": 4,
    "bucket_seconds": 3600,
    "short_window": 3,
    "long_window": 24,
    "local_window": 6,
    "missing_points": 3,
    # No stuck_points: with no within-hour noise the stuck rule never applies,
    # and a static deployment's cost is rightly the same every hour.
    "noise_share": 1.0,
}
