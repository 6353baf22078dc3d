"""One set of data builders for the tests; plain functions, no fixtures, no assertions.

- `ingest`: agent batch bodies (inventory, GPU and inference samples) and the simulated fleet.
- `fleet`: nodes, GPUs and deployments created directly as rows.
- `hours`: a run of hourly rows up to an end hour (GPU and inference rollups, cost records),
  the "constructed week" the recommendation rules and economics read.
- `prices`: price book entries.

Fixtures that hand these to tests live in the conftest.py files; helpers that only one
folder needs stay in that folder (`tests/costs/fleet.py`, `tests/anomaly/series.py`, ...).
"""
