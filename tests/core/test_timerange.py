"""The URL time range: presets, custom, the label filter, the source and step it picks."""

from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qsl

import pytest

from inferscope.lib.timerange import DAY, HOUR, MINUTE, RAW, RangeError, parse_range

NOW = datetime(2026, 11, 26, 18, 7, 31, tzinfo=UTC)
RAW_SINCE = NOW - timedelta(days=14)


def parse(**params: str):  # type: ignore[no-untyped-def]
    return parse_range(params, NOW, RAW_SINCE)


@pytest.mark.parametrize(
    ("name", "span", "source", "step"),
    [
        ("1h", timedelta(hours=1), RAW, 10),
        ("24h", timedelta(days=1), MINUTE, 300),
        ("7d", timedelta(days=7), HOUR, 3600),
        ("30d", timedelta(days=30), HOUR, 7200),
    ],
)
def test_a_preset_ends_now_and_picks_its_source_and_step(name, span, source, step) -> None:  # type: ignore[no-untyped-def]
    tr = parse(range=name)
    assert tr.end == NOW and tr.end - tr.start == span
    assert (tr.source, tr.step) == (source, step)
    assert tr.live and tr.span.total_seconds() / tr.step <= 360


def test_no_range_is_the_last_24_hours() -> None:
    tr = parse()
    assert tr.name == "24h" and tr.refresh_seconds == 60


def test_a_custom_range_is_fixed_and_round_trips_through_the_url() -> None:
    tr = parse(range="custom", start="2026-11-02", end="2026-11-03T06:30", label="team=search")
    assert tr.start == datetime(2026, 11, 2, tzinfo=UTC)
    assert tr.end == datetime(2026, 11, 3, 6, 30, tzinfo=UTC)
    assert not tr.live and tr.refresh_seconds is None
    assert tr.label == ("team", "search")
    again = parse(**dict(parse_qsl(tr.query())))
    assert (again.start, again.end, again.label) == (tr.start, tr.end, tr.label)


def test_a_preset_link_drops_the_custom_dates_but_keeps_the_label() -> None:
    tr = parse(range="custom", start="2026-11-02", end="2026-11-03", label="team=ml")
    assert tr.query(range="7d") == "range=7d&label=team%3Dml"


def test_an_old_hour_reads_minutes_since_its_raw_samples_are_gone() -> None:
    assert parse(range="custom", start="2026-10-01T10:00", end="2026-10-01T11:00").source == MINUTE
    assert parse(range="custom", start="2025-01-01", end="2025-12-31").source == DAY


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"range": "2w"}, "range"),
        ({"range": "custom", "start": "", "end": "2026-11-03"}, "start"),
        ({"range": "custom", "start": "2026-11-03", "end": "2026-11-02"}, "end"),
        ({"range": "custom", "start": "2024-01-01", "end": "2026-11-02"}, "start"),
        ({"range": "custom", "start": "1900-01-01", "end": "1900-01-02"}, "start"),
        ({"label": "team"}, "label"),
        ({"label": "=x"}, "label"),
    ],
)
def test_bad_input_names_the_field(params: dict[str, str], field: str) -> None:
    with pytest.raises(RangeError) as caught:
        parse(**params)
    assert field in caught.value.errors


def test_a_short_range_older_than_the_minute_rollups_reads_hours() -> None:
    old = {"range": "custom", "start": "2026-06-01", "end": "2026-06-02"}
    assert parse_range(old, NOW, RAW_SINCE).source == MINUTE
    assert parse_range(old, NOW, RAW_SINCE, minute_since=NOW - timedelta(days=90)).source == HOUR


def test_a_label_value_may_be_empty_and_contain_equals_signs() -> None:
    assert parse(label="team=").label == ("team", "")
    assert parse(label="expr=a=b").label == ("expr", "a=b")
