"""The costs page's figures: spend over time, idle, $ per 1M tokens, budgets,
chargeback and prices."""

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.db.models import QuerySet
from django.urls import reverse

from collectors.models import Deployment
from costs.breakeven import break_evens
from costs.budgets import budget_statuses
from costs.economics.selectors import deployment_economics, idle_series
from costs.models import NodePrice, PriceBookEntry
from costs.report import report_rows
from costs.selectors import IDLE_KEY, unpriced_gpus
from costs.spend import (
    SpendTotals,
    cost_window,
    spend_by_group,
    spend_steps,
    totals_of,
    usd_per_1m_by_group,
)
from dashboard.charts.budget import budget_chart
from dashboard.charts.idle import idle_chart
from dashboard.charts.layout import step_label
from dashboard.charts.lines import line_chart
from dashboard.charts.spend import spend_chart
from dashboard.economics import IdleSplit, UnitRow, idle_split, unit_rows
from dashboard.selectors.scope import PageRange


@dataclass(frozen=True)
class CostsPage:
    by: str
    totals: SpendTotals
    split: IdleSplit
    spend_since: datetime
    idle_chart: str | None
    spend_chart: str | None
    per_1m_chart: str | None
    budget_chart: str | None
    rows: list[Any]  # costs.report rows, a total last
    units: list[UnitRow]  # over the chargeback's hours, the label filter applied
    chart_by: str
    idle_key: str
    show_carbon: bool
    report_url: str
    budgets: list[Any]
    unpriced: list[dict[str, Any]]
    break_evens: list[Any]
    prices: QuerySet[PriceBookEntry]
    node_prices: QuerySet[NodePrice]


def chargeback_hours(pr: PageRange) -> tuple[datetime, datetime]:
    """Whole hours, the end one included when the range ends inside it."""
    tr = pr.tr
    start = tr.start.replace(minute=0, second=0, microsecond=0)
    end = tr.end.replace(minute=0, second=0, microsecond=0)
    if end < tr.end:
        end += timedelta(hours=1)
    return start, end


def costs_page(pr: PageRange, by: str) -> CostsPage:
    """`by`: the chargeback's grouping (deployment, node, gpu or label:KEY), validated."""
    tr = pr.tr
    start, end = chargeback_hours(pr)
    deployments = {
        d["id"]: d
        for d in Deployment.objects.values("id", "name", "node__name", "labels", "node__labels")
    }
    rows = spend_steps(tr.start, tr.end, tr.step, pr.cost_scope)
    times, groups = spend_by_group(rows, deployments, by)
    per_1m_times, per_1m = usd_per_1m_by_group(tr, deployments, by, pr.cost_scope, rows)
    since = cost_window(tr).start
    steps = idle_series(since, tr.end, tr.step, pr.cost_scope)
    # Every deployment's figures once: the chargeback table covers the whole fleet,
    # and the unit table is the same figures with the label filter applied.
    figures = deployment_economics(start, end)
    shown = None if pr.deployment_ids is None else set(pr.deployment_ids)
    units = figures if shown is None else {k: v for k, v in figures.items() if k in shown}
    budgets = budget_statuses()
    period = {"start": start.strftime("%Y-%m-%dT%H:00"), "end": end.strftime("%Y-%m-%dT%H:00")}
    label = step_label(max(tr.step, 3600))
    x_range = (tr.start, tr.end)
    return CostsPage(
        by=by,
        totals=totals_of(rows),
        split=idle_split(steps),
        spend_since=since,
        idle_chart=idle_chart("idle-split", steps, label, x_range),
        spend_chart=spend_chart("spend", times, groups, label, x_range) if groups else None,
        per_1m_chart=line_chart(
            "usd-per-1m", per_1m_times, per_1m, "$ per 1M tokens", x_range=x_range
        ),
        budget_chart=budget_chart(budgets) if budgets else None,
        rows=report_rows(start, end, by, figures),
        units=unit_rows(units, deployments),
        chart_by="label" if by.startswith("label:") else "deployment",
        idle_key=IDLE_KEY,
        show_carbon=settings.COST_GRID_GCO2_PER_KWH is not None,
        report_url=f"{reverse('costs:report')}?{urlencode({**period, 'by': by})}",
        budgets=budgets,
        unpriced=unpriced_gpus(start, end),
        break_evens=break_evens(start, end),
        prices=PriceBookEntry.objects.all(),
        node_prices=NodePrice.objects.select_related("node"),
    )
