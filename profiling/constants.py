"""Fixed numbers of the profiling job queue."""

# The runner subprocess is killed past this, unless the node's agent allows less.
DEFAULT_TIME_LIMIT_S = 1800
MAX_TIME_LIMIT_S = 6 * 3600
# A running job whose agent has said nothing for this long (past its time limit) failed.
REPORT_GRACE_S = 300
# A queued job no agent picked up in this long fails with a message saying so.
QUEUE_TTL_S = 24 * 3600
# Points one report may carry (a sweep has at most vocab.sweeps.MAX_POINTS).
MAX_POINTS_PER_REPORT = 256
