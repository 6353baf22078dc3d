"""Ingest bodies for tests: docs/ingest.md's documented example, and generated JSON
values for the fuzzing tests."""

import json
import re
from pathlib import Path
from typing import Any

from hypothesis import strategies as st

from collectors.models import Deployment, Gpu, GpuSample, InferenceSample, IngestBatch, Node

DOC = Path(__file__).resolve().parents[2] / "docs" / "ingest.md"
EXAMPLE_MARKER = "<!-- example-body -->"

# Long strings too: every column has a length, and a string past it must be a 400.
texts = st.text(max_size=20) | st.text(alphabet="x\u00e9", min_size=90, max_size=600)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | texts,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=12,
)


def doc_text() -> str:
    return DOC.read_text(encoding="utf-8")


def documented_example() -> dict[str, Any]:
    """The JSON block that follows the example marker in docs/ingest.md."""
    text = doc_text()
    assert text.count(EXAMPLE_MARKER) == 1, f"expected one {EXAMPLE_MARKER} in {DOC}"
    after_marker = text.split(EXAMPLE_MARKER, 1)[1]
    match = re.match(r"\s*```json\n(.*?)\n```", after_marker, re.DOTALL)
    assert match, f"no ```json block right after {EXAMPLE_MARKER}"
    return json.loads(match.group(1))


def paths(value: Any, prefix: tuple = ()) -> list[tuple]:
    """Every key path in a JSON value, the root's () first."""
    out = [prefix]
    if isinstance(value, dict):
        for key, child in value.items():
            out += paths(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            out += paths(child, (*prefix, index))
    return out


def stored() -> tuple[int, ...]:
    return tuple(
        m.objects.count() for m in (Node, Gpu, Deployment, GpuSample, InferenceSample, IngestBatch)
    )


def assert_field_error(response, field: str, fragment: str = "") -> None:
    assert response.status_code == 400, response.content
    errors = response.json()["errors"]
    matching = [e for e in errors if e["field"] == field]
    assert matching, f"no error for {field!r} in {errors}"
    assert fragment.lower() in matching[0]["message"].lower(), matching[0]
