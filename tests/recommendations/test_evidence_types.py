"""A recommendation's evidence: checked once when the job writes it, decoded once
when a page or a selector reads it."""

import logging
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from inferscope.lib.stored import RecordError
from recommendations.choices import Confidence
from recommendations.evidence_types import (
    ChartLine,
    ChartSeries,
    Evidence,
    EvidenceChart,
    evidence_json,
    evidence_of,
)
from recommendations.explain.chart import chart
from recommendations.models import Recommendation
from recommendations.rules.base import Context, Finding, Rule
from recommendations.services import recommendations_recompute

NOW = datetime(2026, 11, 23, 6, 30, tzinfo=UTC)
CHART = chart(
    "p95 by hour",
    [datetime(2026, 11, 22, h, tzinfo=UTC) for h in range(3)],
    [("p95", [1.5, None, 2])],
    "seconds",
    lines=[("target", 2.0)],
)


def test_evidence_round_trips_through_its_stored_json() -> None:
    stored = evidence_json({"hours": 168, "deployment_ids": [3, 4], "chart": CHART})
    assert stored["chart"] == CHART  # the stored shape is the rule's, unchanged
    evidence = evidence_of(stored, "evidence")
    assert evidence == Evidence(
        figures={"hours": 168, "deployment_ids": [3, 4]},
        chart=EvidenceChart(
            title="p95 by hour",
            x=[
                "2026-11-22T00:00:00+00:00",
                "2026-11-22T01:00:00+00:00",
                "2026-11-22T02:00:00+00:00",
            ],
            y_title="seconds",
            series=[ChartSeries("p95", [1.5, None, 2.0])],
            lines=[ChartLine(2.0, "target")],
        ),
        deployment_ids=[3, 4],
    )


def test_old_rows_without_a_chart_or_ids_still_read() -> None:
    assert evidence_of({}, "evidence") == Evidence()
    evidence = evidence_of({"hours": 168, "chart": {"x": [1, 8], "series": []}}, "evidence")
    assert evidence is not None and evidence.chart == EvidenceChart(x=[1, 8])


@pytest.mark.parametrize(
    ("evidence", "field"),
    [
        ({"chart": {"x": "not a list"}}, "evidence.chart.x"),
        ({"chart": {**CHART, "kind": "pie"}}, "evidence.chart.kind"),
        ({"chart": {**CHART, "lines": [{"name": "t"}]}}, "evidence.chart.lines.0"),
        ({"deployment_ids": ["a"]}, "deployment_ids.0"),
        ([], "evidence"),
    ],
)
def test_a_wrong_shape_is_refused_when_written(evidence: object, field: str) -> None:
    with pytest.raises(RecordError) as caught:
        evidence_json(evidence)
    assert caught.value.field == field


def test_an_unreadable_chart_is_left_out_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        evidence = evidence_of({"hours": 1, "chart": {"x": "no"}}, "evidence of recommendation 9")
        assert evidence_of(["not", "an", "object"], "evidence of recommendation 9") is None
    assert evidence is not None and evidence.chart is None and evidence.figures == {"hours": 1}
    assert "unreadable evidence of recommendation 9 chart" in caplog.text
    assert "unreadable evidence of recommendation 9: not an object" in caplog.text


class Odd(Rule):
    name = "odd"

    def evaluate(self, ctx: Context) -> list[Finding]:
        bad = {"chart": {**CHART, "series": [{"name": "p95", "y": ["slow"]}]}}
        return [
            Finding("bad", "t", "Do it.", Decimal(5), "x", Confidence.LOW, evidence=bad),
            Finding("good", "t", "Do it.", Decimal(5), "x", Confidence.LOW, evidence={"n": 1}),
        ]


@pytest.mark.django_db
def test_the_job_drops_a_finding_whose_evidence_has_the_wrong_shape(
    caplog: pytest.LogCaptureFixture,
) -> None:
    summary = recommendations_recompute(now=NOW, rules=[Odd()])
    assert summary.found == 1
    assert list(Recommendation.objects.values_list("fingerprint", "evidence")) == [
        ("odd:good", {"n": 1})
    ]
    assert "odd: bad stores evidence of the wrong shape" in caplog.text
    assert "evidence.chart.series.0.y.0" in caplog.text
