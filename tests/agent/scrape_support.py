"""Recorded /metrics pages of each inference server (fixtures/) turned into one sample."""

from datetime import UTC, datetime, timedelta
from pathlib import Path

import msgspec

from collectors.agent.scrape import EndpointConverter
from collectors.schema import InferenceSampleIn

FIXTURES = Path(__file__).parent / "fixtures"

T0 = datetime(2026, 11, 25, 12, 0, 0, tzinfo=UTC)

T1 = T0 + timedelta(seconds=10)


def convert(server, name: str, select: dict | None = None) -> dict:
    converter = EndpointConverter(server, f"http://test/{name}", select)
    assert converter.update((FIXTURES / f"{name}_t0.txt").read_text(), T0) is None
    sample = converter.update((FIXTURES / f"{name}_t1.txt").read_text(), T1)
    assert sample is not None
    # Whatever the converter makes must be a valid ingest sample.
    msgspec.convert({"deployment": "d", **sample}, InferenceSampleIn)
    return sample
