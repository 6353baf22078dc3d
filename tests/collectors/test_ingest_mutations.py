"""The documented example, mutated (types, time offsets, sizes, encodings, duplicate
keys) and sent between two valid batches: never a 5xx, and the valid samples around
it are stored exactly once, whatever happened to the bad one (issue 23)."""

import copy
import gzip
import itertools
import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from collectors.models import GpuSample, InferenceSample
from tests.collectors.bodies import documented_example, json_values, paths
from tests.examples import examples

pytestmark = pytest.mark.django_db
EXAMPLE = documented_example()
PATHS = [p for p in paths(EXAMPLE) if p]
FUZZ = settings(
    max_examples=examples(80),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
_clock = itertools.count(1)


def _at(body: Any, path: tuple) -> Any:
    for key in path:
        body = body[key]
    return body


def example(batch_id: str, minutes_ago: int) -> dict[str, Any]:
    body = copy.deepcopy(EXAMPLE)
    body["batch_id"] = batch_id
    ts = (datetime.now(UTC) - timedelta(minutes=minutes_ago)).replace(microsecond=0)
    for sample in body["gpu_samples"] + body["inference_samples"]:
        sample["ts"] = ts.isoformat()
    return body


# -- mutations: each returns (raw body, extra request headers) ------------------------


def retyped(body: dict, path: tuple, value: Any) -> tuple[bytes, dict]:
    _at(body, path[:-1])[path[-1]] = value
    return msgspec.json.encode(body), {}


def offset(body: dict, minutes: int) -> tuple[bytes, dict]:
    zone = timezone(timedelta(minutes=minutes))
    for sample in body["gpu_samples"] + body["inference_samples"]:
        sample["ts"] = datetime.fromisoformat(sample["ts"]).astimezone(zone).isoformat()
    return msgspec.json.encode(body), {}


def resized(body: dict, path: tuple, text: str, copies: int) -> tuple[bytes, dict]:
    _at(body, path[:-1])[path[-1]] = text
    body["gpu_samples"] = body["gpu_samples"] * copies
    return msgspec.json.encode(body), {}


def encoded(body: dict, how: str) -> tuple[bytes, dict]:
    raw = json.dumps(body, ensure_ascii=False).encode()
    if how == "gzip":
        return gzip.compress(raw), {"HTTP_CONTENT_ENCODING": "gzip"}
    if how == "utf-16":
        # Django's test client encodes the body in the charset the header names.
        return json.dumps(body).encode(), {"content_type": "application/json; charset=utf-16"}
    if how == "bom":
        return b"\xef\xbb\xbf" + raw, {}
    if how == "latin-1":
        return raw.replace(b"my-collector", "my-collectör".encode("latin-1")), {}
    return raw.replace(b'"util_gpu": 87.0', b'"util_gpu": 87.0\x00', 1), {}


def duplicated(body: dict, path: tuple, value: Any) -> tuple[bytes, dict]:
    key = json.dumps(path[-1])
    raw = json.dumps(body)
    first = raw.index(key + ":") if isinstance(path[-1], str) and key + ":" in raw else -1
    if first < 0:
        return raw.encode(), {}
    return (raw[:first] + f"{key}: {json.dumps(value)}, " + raw[first:]).encode(), {}


def mutations() -> st.SearchStrategy:
    keyed = [p for p in PATHS if isinstance(p[-1], str)]
    strings = [p for p in PATHS if isinstance(_at(EXAMPLE, p), str)]
    return st.one_of(
        st.tuples(st.just(retyped), st.sampled_from(PATHS), json_values),
        st.tuples(st.just(offset), st.integers(-(24 * 60 - 1), 24 * 60 - 1)),
        st.tuples(
            st.just(resized),
            st.sampled_from(strings),
            st.text(max_size=20) | st.text(min_size=200, max_size=2000),
            st.integers(1, 30),
        ),
        st.tuples(st.just(encoded), st.sampled_from(["gzip", "utf-16", "bom", "latin-1", "nul"])),
        st.tuples(st.just(duplicated), st.sampled_from(keyed), json_values),
    )


def post(post_batch: Any, raw: bytes, headers: dict) -> Any:
    response = post_batch(raw, **headers)
    assert response.status_code < 500, response.content
    return response


def accepted(response: Any) -> tuple[int, int]:
    if response.status_code != 200 or response.json()["duplicate"]:
        return 0, 0
    counts = response.json()["accepted"]
    return counts["gpu_samples"], counts["inference_samples"]


@FUZZ
@given(mutation=mutations())
def test_a_mutated_example_between_two_valid_ones_loses_and_doubles_nothing(post_batch, mutation):
    n = next(_clock)
    before = (GpuSample.objects.count(), InferenceSample.objects.count())
    first, last = example(f"a-{n}", 3 * n), example(f"b-{n}", 3 * n + 2)
    how, *args = mutation
    raw, headers = how(example(f"m-{n}", 3 * n + 1), *args)

    got_first = accepted(post(post_batch, msgspec.json.encode(first), {}))
    got_bad = post(post_batch, raw, headers)
    if got_bad.status_code == 400:
        assert all(e["message"] for e in got_bad.json()["errors"])
    got_last = accepted(post(post_batch, msgspec.json.encode(last), {}))
    if how is offset:
        assert got_bad.status_code == 200, got_bad.content  # any RFC 3339 offset is valid

    assert got_first == got_last == (2, 1)
    after = (GpuSample.objects.count(), InferenceSample.objects.count())
    bad = accepted(got_bad)
    # The bad batch adds at most what it was told it added (fewer where it repeats
    # a (GPU, time) within itself: the first row is kept), and something if anything.
    for grew, valid, told in ((after[0] - before[0], 4, bad[0]), (after[1] - before[1], 2, bad[1])):
        assert valid + min(told, 1) <= grew <= valid + told
    for body in (first, last):
        ts = datetime.fromisoformat(body["gpu_samples"][0]["ts"])
        assert GpuSample.objects.filter(ts=ts).count() == 2
        assert InferenceSample.objects.filter(ts=ts).count() == 1
