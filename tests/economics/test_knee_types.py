"""The stored knee: checked once when written, decoded once when read."""

import logging

import msgspec
import pytest

from inferscope.lib.stored import RecordError
from telemetry.knee_types import KneeBin, KneeDetail, MetricKnee, QueueFit, knee_json, knee_of

DETAIL = KneeDetail(
    targets_s={"ttft": 0.25},
    bins=[KneeBin(rps=1.0, chunks=6, ttft=0.1), KneeBin(rps=2.0, chunks=6, ttft=0.3, itl=0.02)],
    per_metric={"ttft": MetricKnee(0.25, 1.8, "observed", QueueFit(0.05, 0.02, 2.5))},
    busiest_rps=2.0,
    tokens_per_request=150.0,
)


def test_a_detail_round_trips_through_its_stored_json() -> None:
    stored = knee_json(msgspec.to_builtins(DETAIL))
    assert stored["bins"][1] == {"rps": 2.0, "chunks": 6, "ttft": 0.3, "itl": 0.02, "e2e": None}
    assert knee_of(stored) == DETAIL
    assert DETAIL.bins[1].p95("itl") == 0.02
    assert DETAIL.per_metric["ttft"].fit is not None
    assert DETAIL.per_metric["ttft"].fit.at(0.0) == pytest.approx(0.05)


def test_an_empty_or_partial_row_takes_the_defaults() -> None:
    assert knee_of({}) == KneeDetail()
    old = knee_of({"bins": [{"rps": 1, "ttft": "0.2"}], "targets_s": {"ttft": 0.5}})
    assert old is not None and old.bins == [KneeBin(rps=1.0, ttft=0.2)]
    assert old.busiest_rps == 0.0 and old.tokens_per_request is None and old.per_metric == {}


@pytest.mark.parametrize(
    ("detail", "field"),
    [
        ({"bins": [{"rps": -1.0}]}, "detail.bins.0.rps"),
        ({"bins": [{"ttft": 0.1}]}, "detail.bins.0"),
        (
            {"per_metric": {"ttft": {"fit": {"a": 1, "b": "x", "c": 2}}}},
            "detail.per_metric[...].fit.b",
        ),
        ({"targets_s": {"ttft": float("inf")}}, "detail.targets_s[...]"),
        ([], "detail"),
    ],
)
def test_a_wrong_shape_is_refused_when_written(detail: object, field: str) -> None:
    with pytest.raises(RecordError) as caught:
        knee_json(detail)
    assert caught.value.field.startswith(field)


def test_an_unreadable_row_is_none_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        assert knee_of({"bins": "many"}, "capacity detail of deployment 7") is None
    assert "unreadable capacity detail of deployment 7" in caplog.text
