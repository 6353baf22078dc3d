"""The node agent: plain Python that collects GPU and inference-server metrics and
posts them to the ingest API. Nothing in this package may import Django."""
