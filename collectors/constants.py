"""Fixed numbers of the ingest contract (limits that may vary live in settings)."""

from datetime import UTC, datetime, timedelta

INGEST_SCHEMA_VERSIONS = (1,)
# Samples before this are a clock or unit bug (seconds vs milliseconds), not history.
EARLIEST_SAMPLE_TIME = datetime(2000, 1, 1, tzinfo=UTC)
# Upper bound for any numeric field: larger values are unit bugs, and the bound
# also rejects Infinity (NaN is not valid JSON at all).
MAX_NUMBER = 1e18
MAX_NAME_LENGTH = 200
MAX_LABELS = 50
MAX_HISTOGRAM_BUCKETS = 128
# An inventory describes what one collector sees: a node, or a rack for a
# central Prometheus collector. Larger lists are a bug or an abuse.
MAX_INVENTORY_NODES = 1_000
MAX_INVENTORY_GPUS = 8_192
MAX_INVENTORY_DEPLOYMENTS = 2_000
# How many errors a 400 lists: enough to fix a collector, small enough to read.
MAX_REPORTED_ERRORS = 50
TOKEN_PREFIX = "isa_"
# How stale Agent.last_seen_at may get while the agent is sending.
LAST_SEEN_RESOLUTION = timedelta(seconds=30)
