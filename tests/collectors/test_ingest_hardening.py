"""What an adversarial run found at the ingest door (issue 23, findings 3 and 5):
each answer is a 200 or a 4xx that names the field, never a 500."""

import json
import subprocess
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta, timezone

import msgspec
import pytest

from collectors.models import GpuSample, InferenceSample, SampleSpan
from tests.builders.ingest import INGEST_URL, batch
from tests.core.processes import ROOT, embedded_env, free_port, wait_until

pytestmark = pytest.mark.django_db
DUPLICATE = "Duplicate key, one of whose values is invalid: give each key once"


def with_offset(body: dict, hours: int, minutes: int = 0) -> dict:
    """Every sample's time written with another UTC offset: the same instants."""
    zone = timezone(timedelta(hours=hours, minutes=minutes if hours >= 0 else -minutes))
    for sample in body["gpu_samples"] + body["inference_samples"]:
        instant = datetime.fromisoformat(sample["ts"])
        sample["ts"] = instant.astimezone(zone).isoformat()
    return body


@pytest.mark.parametrize(("hours", "minutes"), [(16, 0), (23, 59), (-23, 59), (5, 30)])
def test_any_rfc3339_offset_is_stored_as_the_same_instant(post_batch, hours, minutes):
    body = batch()
    instants = sorted(datetime.fromisoformat(s["ts"]) for s in body["gpu_samples"])
    response = post_batch(with_offset(body, hours, minutes))
    assert response.status_code == 200, response.content
    stored = sorted(GpuSample.objects.values_list("ts", flat=True))
    assert stored == instants
    assert all(ts.utcoffset() == timedelta(0) for ts in stored)
    span = SampleSpan.objects.get()
    assert span.start == min(instants)


@pytest.mark.parametrize("digits", [21, 5000, 100_000])
def test_an_integer_too_long_for_any_decoder_is_a_400(post_batch, digits):
    # Python converts at most 4,300 digits: finding the error must not convert them.
    raw = msgspec.json.encode(batch()).replace(b'"temp_c":71.0', b'"temp_c":' + b"9" * digits)
    response = post_batch(raw)
    assert response.status_code == 400
    assert response.json()["errors"][0]["message"].endswith("is not a finite number in range")


def test_a_name_with_a_newline_is_refused_naming_the_field(post_batch):
    body = batch()
    body["inventory"]["deployments"][0]["name"] = "nl-dep\nBcc: victim@example.org"
    response = post_batch(body)
    assert response.status_code == 400
    assert {
        "field": "inventory.deployments[0].name",
        "message": "Must be one line of text, without control characters",
    } in response.json()["errors"]


def test_a_duplicate_key_with_valid_values_counts_its_last_value(post_batch):
    raw = msgspec.json.encode(batch("first")).replace(
        b'"batch_id":"first"', b'"batch_id":"first","batch_id":"last"'
    )
    response = post_batch(raw)
    assert response.status_code == 200 and response.json()["batch_id"] == "last"


@pytest.mark.parametrize(
    ("raw", "field", "message"),
    [
        (
            b'{"schema_version": 1, "batch_id": 5, "batch_id": "b"}',
            "batch_id",
            DUPLICATE,
        ),
        (
            b'{"schema_version": 1, "batch_id": "x", "inventory": {"nodes": [{"name": "",'
            b' "name": "m"}]}}',
            "inventory.nodes[0].name",
            DUPLICATE,
        ),
        (
            b'{"schema_version": 1, "batch_id": "\\ud800"}',
            "batch_id",
            "A lone UTF-16 surrogate escape (\\ud800-\\udfff) is not a character",
        ),
    ],
)
def test_json_that_means_two_things_is_refused_naming_the_field(post_batch, raw, field, message):
    response = post_batch(raw)
    assert response.status_code == 400
    assert response.json()["errors"] == [{"field": field, "message": message}]


@pytest.mark.parametrize(
    "content_type",
    ["*/*", "application/*", "application/json; charset=utf-16", "text/plain", "text/json"],
)
def test_content_types_other_than_json_in_utf8_get_415(post_batch, content_type):
    response = post_batch(batch(), content_type=content_type)
    assert response.status_code == 415, response.content
    assert content_type in response.json()["detail"]
    assert not GpuSample.objects.exists()


@pytest.mark.parametrize(
    "content_type", ["application/json", "application/json; charset=UTF-8", "Application/JSON"]
)
def test_json_in_utf8_is_accepted_however_it_is_written(post_batch, content_type):
    assert post_batch(batch(), content_type=content_type).status_code == 200


@pytest.mark.slow
def test_with_the_database_down_the_api_answers_503_json_with_retry_after(tmp_path):
    """A real server whose PostgreSQL cannot be reached (nothing listens on its port)."""
    port, dead = free_port(), free_port()
    env = embedded_env(tmp_path, port, DATABASE_URL=f"postgres://nobody@127.0.0.1:{dead}/gone")
    web = subprocess.Popen(
        [str(ROOT / ".venv" / "bin" / "inferscope"), "web"], cwd=tmp_path, env=env
    )
    site = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: _status(f"{site}/healthz")[0] == 503, 60, "the server")
        body = msgspec.json.encode(batch())
        for method, path, data, token in [
            ("POST", INGEST_URL, body, "isa_an-agent-token"),
            ("GET", "/api/v1/nodes", None, "isk_a-persons-token"),
            ("GET", "/api/v1/costs/report", None, "isk_a-persons-token"),
        ]:
            status, headers, text = _status(f"{site}{path}", method, data, token)
            assert status == 503, (path, text)
            assert headers["Content-Type"] == "application/json", path
            assert headers["Retry-After"] == "5", path
            assert json.loads(text) == {
                "detail": "The database is unavailable; retry after Retry-After seconds.",
                "errors": [],
            }
        # A page for someone logged in: their session is in the database.
        status, headers, text = _status(f"{site}/", cookie="sessionid=" + "a" * 32)
        assert status == 503 and headers["Retry-After"] == "5"
        assert "The database is unavailable" in text
    finally:
        web.terminate()
        web.wait(timeout=15)


def _status(
    url: str, method: str = "GET", data: bytes | None = None, token: str = "", cookie: str = ""
) -> tuple:
    headers = {"Content-Type": "application/json"}
    if cookie:
        headers["Cookie"] = cookie
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.headers, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read().decode()
    except OSError:
        return 0, {}, ""


def test_every_sample_is_kept_in_utc_for_inference_samples_too(post_batch):
    body = with_offset(batch(), 16)
    assert post_batch(body).status_code == 200
    [stored] = InferenceSample.objects.values_list("ts", flat=True)
    assert stored.tzinfo is not None and stored.utcoffset() == timedelta(0)
    assert stored == datetime.fromisoformat(body["inference_samples"][0]["ts"]).astimezone(UTC)
