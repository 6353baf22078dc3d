"""No body, however odd, gets a 500: the test client re-raises any server error."""

import copy

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.builders.ingest import batch
from tests.collectors.bodies import json_values, paths
from tests.examples import examples

pytestmark = pytest.mark.django_db

FUZZ = settings(
    max_examples=examples(120),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)


TEMPLATE = batch(gpu_samples=2)
PATHS = [p for p in paths(TEMPLATE) if p]


@FUZZ
@given(path=st.sampled_from(PATHS), value=json_values, batch_id=st.uuids())
def test_replacing_any_field_with_any_value_never_errors(post_batch, path, value, batch_id):
    body = copy.deepcopy(TEMPLATE)
    body["batch_id"] = str(batch_id)
    target = body
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    response = post_batch(body)
    assert response.status_code in (200, 400), response.content
    if response.status_code == 400:
        assert response.json()["errors"]


@FUZZ
@given(raw=st.binary(max_size=200) | json_values.map(msgspec.json.encode))
def test_arbitrary_bytes_never_error(post_batch, raw):
    response = post_batch(raw)
    assert response.status_code in (400,), response.content


@FUZZ
@given(junk=st.binary(min_size=1, max_size=12))
def test_any_bytes_inside_a_json_string_never_error(post_batch, junk):
    # Raw bytes where a string's characters go: invalid UTF-8, control bytes.
    inner = junk.replace(b"\\", b"").replace(b'"', b"")
    raw = msgspec.json.encode(batch()).replace(b'"0.1.0"', b'"' + inner + b'"', 1)
    response = post_batch(raw)
    assert response.status_code in (200, 400), response.content
