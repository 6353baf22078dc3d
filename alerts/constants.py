"""Timeouts, retry policy and defaults of alert evaluation and delivery."""

EVALUATE_EVERY_SECONDS = 15
# Outbound Slack and webhook requests: short, so a slow receiver delays nothing.
HTTP_CONNECT_TIMEOUT_SECONDS = 3.0
HTTP_TIMEOUT_SECONDS = 5.0
# Response bodies kept in an attempt's error text, at most.
ERROR_TEXT_LIMIT = 500
# A delivery is retried this often, with exponential backoff (10 s, 20 s, 40 s, ...
# up to the cap): the send_delivery task's Celery retry options.
MAX_DELIVERY_RETRIES = 6
RETRY_BACKOFF_SECONDS = 10
RETRY_BACKOFF_MAX_SECONDS = 600
# Celery's default full jitter would make any wait anything from 0 s to its ceiling;
# these are the documented 10 s, 20 s, 40 s ..., as before Celery took them over.
RETRY_JITTER = False
# Events not handed to the delivery task after this long are re-queued by the
# evaluation job (the broker was down when their transaction committed).
STALE_EVENT_SECONDS = 30
# Deliveries never tried this long after they were made are queued again.
STALE_DELIVERY_SECONDS = 300
# A delivery task is stopped after this long, so a receiver that trickles bytes
# cannot hold a worker (each network operation also times out on its own).
DELIVERY_TIME_LIMIT_SECONDS = 30
# Upper bounds on a rule's durations: beyond them a timedelta would overflow.
MAX_FOR_SECONDS = 7 * 86_400
MAX_REPEAT_MINUTES = 366 * 1440
DEFAULT_REPEAT_MINUTES = 240
# Threshold metrics read raw samples of this window, ending now.
METRIC_WINDOW_SECONDS = 60
SIGNATURE_HEADER = "X-Inferscope-Signature"
TIMESTAMP_HEADER = "X-Inferscope-Timestamp"
# Goodput rules judge the minute rollups of this window, ending now...
GOODPUT_WINDOW_MINUTES = 60
# ...and only deployments that finished at least this many requests in it: a
# handful of requests makes a share that one slow request moves by 10 points.
GOODPUT_MIN_REQUESTS = 30
# A capacity estimate whose window ended longer ago than this is not read: its
# "current" load is stale (the hourly estimate job has stopped).
HEADROOM_MAX_AGE_SECONDS = 3 * 3600
# Idle-held rules add up the last this many costed hours: "a day".
IDLE_HELD_HOURS = 24
