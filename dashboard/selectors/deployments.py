"""The deployments list's and one deployment's page figures."""

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db.models import QuerySet

from collectors.models import Deployment, DeploymentSettings, Gpu, settings_for
from costs.economics.selectors import Figures, capacity_estimates
from costs.pages import deployment_cost
from costs.spend import deployment_spend
from dashboard.charts.deployment import deployment_charts, deployment_cost_charts
from dashboard.charts.economics import economics_charts
from dashboard.charts.knee import knee_chart
from dashboard.charts.layout import step_label
from dashboard.economics import SloRow, slo_rows
from dashboard.selectors.scope import PageRange
from inferscope.lib.timerange import TimeRange
from telemetry import usage
from telemetry.deployment_figures import LATENCY_METRICS, DeploymentFigures
from telemetry.models.capacity import CapacityEstimate
from vocab.servers import SERVERS


@dataclass(frozen=True)
class DeploymentRow:
    deployment: Deployment
    estimate: CapacityEstimate | None
    figures: DeploymentFigures | None
    usd: Decimal | None
    usd_per_1m: float | None


@dataclass(frozen=True)
class DeploymentsPage:
    rows: list[DeploymentRow]


def deployments_page(pr: PageRange) -> DeploymentsPage:
    deployments = Deployment.objects.select_related("node").order_by("name", "node__name")
    if pr.deployment_ids is not None:
        deployments = deployments.filter(pk__in=pr.deployment_ids)
    figures = usage.deployment_totals(pr.tr, pr.deployment_ids)
    spend = deployment_spend(pr.tr, pr.cost_scope)
    estimates = capacity_estimates(pr.deployment_ids)
    return DeploymentsPage(
        [
            DeploymentRow(
                dep,
                estimates.get(dep.pk),
                figures.get(dep.pk),
                *spend.get(dep.pk, (None, None)),
            )
            for dep in deployments
        ]
    )


@dataclass(frozen=True)
class DeploymentPage:
    deployment: Deployment
    gpus: QuerySet[Gpu]
    totals: DeploymentFigures | None
    usd: Decimal
    usd_per_1m: float | None
    spend_since: datetime
    charts: dict[str, str | None]
    dialect: dict[str, list[tuple[str, str]]]
    served: DeploymentSettings
    economics: Figures | None
    slo: list[SloRow]
    economics_charts: dict[str, Any]
    estimate: CapacityEstimate | None
    knee_chart: str | None
    knee_unreadable: bool


def deployment_page(dep: Deployment, tr: TimeRange) -> DeploymentPage:
    """Everything one deployment's page shows; its dollars' hours are read once
    (costs.pages), its traffic per step once and its range totals once."""
    times, points = usage.deployment_series(tr, dep.pk)
    x_range = (tr.start, tr.end)
    charts = deployment_charts(times, points, x_range)
    cost = deployment_cost(tr, dep.pk)
    label = step_label(cost.step)
    charts.update(
        deployment_cost_charts(
            dep.name, cost.times, cost.usd_steps, cost.per_1m_steps, label, x_range
        )
    )
    estimate = capacity_estimates([dep.pk]).get(dep.pk)
    knee = estimate.knee() if estimate is not None else None
    served = settings_for(dep)
    return DeploymentPage(
        deployment=dep,
        gpus=dep.gpus.select_related("node").order_by("node__name", "index"),
        totals=usage.deployment_totals(tr, [dep.pk]).get(dep.pk),
        usd=cost.usd,
        usd_per_1m=cost.usd_per_1m,
        spend_since=cost.since,
        charts=charts,
        dialect=dialect_notes(dep.server_kind),
        served=served,
        economics=cost.economics,
        slo=slo_rows(cost.economics, served),
        economics_charts=economics_charts(cost.economics_steps, label, x_range),
        estimate=estimate,
        knee_chart=knee_chart(
            knee, estimate.capacity_rps, estimate.current_rps, estimate.is_lower_bound
        )
        if estimate is not None and knee is not None
        else None,
        knee_unreadable=estimate is not None and knee is None,
    )


# InferenceSample fields as the deployment page names them.
_FIELD_LABELS = {
    **{hist: title for _, hist, title in LATENCY_METRICS},
    "prefix_cache_hits": "Prefix cache hits",
    "prefix_cache_queries": "Prefix cache queries",
    "kv_cache_usage": "KV cache",
    "prompt_tokens": "Prompt tokens",
    "generation_tokens": "Generated tokens",
    "requests_error": "Errors",
    "prefill_s": "Prefill time",
    "decode_s": "Decode time",
}


def dialect_notes(kind: str) -> dict[str, list[tuple[str, str]]]:
    """What this server kind's figures are derived from, and what it cannot give
    (vocab/servers.py), for the note beside the charts."""
    server = SERVERS.get(kind)
    if server is None:
        return {}
    notes = {
        "derived": [(_FIELD_LABELS.get(f, f), how) for f, how in server.derived.items()],
        "missing": [(_FIELD_LABELS.get(f, f), why) for f, why in server.missing.items()],
    }
    return notes if notes["derived"] or notes["missing"] else {}
