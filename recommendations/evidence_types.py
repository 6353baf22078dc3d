"""A recommendation's evidence as `Recommendation.evidence` stores it: the figures
its rule kept (free-form per rule, shown as a table), the chart it draws
(`recommendations.rules.data.chart`) and the deployments it is about.

Checked once when the daily job writes a finding (recommendations/services.py);
decoded once where a page or a selector reads it.
"""

import logging
from typing import Annotated, Any, Literal

import msgspec
from msgspec import Meta, Struct, field

from inferscope.lib.stored import RecordError, dump, load

logger = logging.getLogger(__name__)

# Finite, and far beyond any $, rate or latency a chart shows.
Figure = Annotated[float, Meta(gt=-1e18, lt=1e18)]

__all__ = ["ChartLine", "ChartSeries", "Evidence", "EvidenceChart", "evidence_json", "evidence_of"]


class ChartSeries(Struct, frozen=True):
    name: str = ""
    y: list[Figure | None] = field(default_factory=list)  # None: a gap in the line


class ChartLine(Struct, frozen=True):
    """A horizontal reference (a target, a threshold), named at its right end."""

    y: Figure
    name: str = ""


class EvidenceChart(Struct, frozen=True):
    title: str = ""
    kind: Literal["line", "bar"] = "line"
    x: list[str | int | float | None] = field(default_factory=list)  # ISO times or numbers
    x_title: str = ""
    y_title: str = ""
    series: list[ChartSeries] = field(default_factory=list)
    lines: list[ChartLine] = field(default_factory=list)


class Evidence(Struct, frozen=True):
    """`figures`: every stored key but the chart, as the rule wrote them."""

    figures: dict[str, Any] = field(default_factory=dict)
    chart: EvidenceChart | None = None
    deployment_ids: list[int] = field(default_factory=list)


def evidence_json(evidence: object) -> dict[str, Any]:
    """What the job stores for a finding: the same flat object, its chart and
    deployment ids checked (raises RecordError on a wrong shape)."""
    if not isinstance(evidence, dict):
        raise RecordError("evidence", "Expected `object`.")
    stored: dict[str, Any] = msgspec.to_builtins(
        {k: v for k, v in evidence.items() if k != "chart"}
    )
    if "deployment_ids" in stored:
        stored["deployment_ids"] = dump(stored["deployment_ids"], list[int], "deployment_ids")
    if evidence.get("chart") is not None:
        stored["chart"] = dump(evidence["chart"], EvidenceChart, "evidence.chart")
    return stored


def evidence_of(value: object, what: str) -> Evidence | None:
    """The stored evidence; None (logged) when it is not an object at all. A chart
    that cannot be read is left out (logged) and the figures still show."""
    if not isinstance(value, dict):
        logger.warning("unreadable %s: not an object", what)
        return None
    raw = value.get("chart")
    chart = None if raw is None else load(raw, EvidenceChart, f"{what} chart")
    ids = load(value.get("deployment_ids") or [], list[int], f"{what} deployment ids")
    figures = {k: v for k, v in value.items() if k != "chart"}
    return Evidence(figures, chart, ids or [])
