"""The anomalies list's and one anomaly's page figures."""

import logging
from dataclasses import dataclass
from typing import Any

from anomaly import selectors as anomaly_selectors
from anomaly.models import Anomaly
from anomaly.series import METRICS
from dashboard.charts.anomaly import observed_vs_expected
from dashboard.charts.timeline import anomaly_timeline
from dashboard.selectors.scope import PageRange

logger = logging.getLogger(__name__)
MAX_SHOWN = 200


@dataclass(frozen=True)
class AnomaliesPage:
    anomalies: list[Anomaly]
    max_shown: int
    timeline: str | None


def anomalies_page(pr: PageRange, filters: dict[str, Any] | None) -> AnomaliesPage:
    """`filters`: the filter form's cleaned data; None (an invalid form) lists nothing."""
    rows: list[Anomaly] = []
    if filters is not None:
        query = anomaly_selectors.anomalies_filtered(
            **filters,
            start=pr.tr.start,
            end=pr.tr.end,
            deployment_ids=pr.deployment_ids,
            gpu_ids=pr.gpu_ids,
        )
        rows = list(query[:MAX_SHOWN])
    return AnomaliesPage(rows, MAX_SHOWN, anomaly_timeline(rows, pr.tr.start, pr.tr.end))


@dataclass(frozen=True)
class AnomalyPage:
    anomaly: Anomaly
    chart: str | None


def anomaly_page(anomaly: Anomaly) -> AnomalyPage:
    try:
        context = anomaly_selectors.anomaly_context(anomaly)
    except Exception:
        # The page still shows the anomaly; only its chart is missing.
        logger.exception("drawing anomaly %s failed", anomaly.pk)
        context = None
    chart = None
    if context is not None and context.observed:
        metric = METRICS[anomaly.metric]
        chart = observed_vs_expected(
            context.observed, context.band, context.start, context.end, metric.label, metric.unit
        )
    return AnomalyPage(anomaly, chart)
