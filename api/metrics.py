"""/metrics: the fleet's cost, budgets, anomalies and agents in Prometheus text format
(exposition 0.0.4), so teams that live in Grafana can graph and alert on them.

prometheus_client writes the text (escaping, number format): a Collector in a
registry of our own yields one GaugeMetricFamily per series name at each scrape.

Every figure comes from the selectors the dashboard reads, aggregated in SQL: a
scrape makes the same few queries whatever the number of deployments (one more
per budget, as the budgets page does). Costs are attributed per whole hour, so
the per-hour series describe the last complete UTC hour and stay put until the
next one; `inferscope_cost_hour_timestamp_seconds` says which hour that is.
"""

import re
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.contrib.auth.decorators import login_not_required
from django.db.models import Count
from django.utils import timezone
from django.utils.decorators import method_decorator
from drf_spectacular.utils import extend_schema
from prometheus_client import CONTENT_TYPE_PLAIN_0_0_4, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from prometheus_client.samples import Sample
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.renderers import BaseRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from anomaly.choices import AnomalyStatus, Severity
from anomaly.models import Anomaly
from collectors.models import Agent, Deployment
from collectors.scope import deployment_labels
from costs.budgets import budget_statuses
from costs.economics.selectors import Figures, capacity_estimates, deployment_economics
from costs.spend import Row as SpendRow
from costs.spend import per_1m, spend_steps
from inferscope.lib.timerange import HOUR
from recommendations.selectors import open_totals
from telemetry.models.capacity import CapacityEstimate

# What generate_latest writes: the classic text format. (prometheus_client's
# CONTENT_TYPE_LATEST names version 1.0.0, whose only addition, quoted UTF-8 names,
# this page never uses; the library pairs generate_latest with 0.0.4 itself.)
CONTENT_TYPE = CONTENT_TYPE_PLAIN_0_0_4
PREFIX = "inferscope_"
TOKENS_WINDOW = timedelta(hours=24)
ZERO = Decimal(0)
_LABEL_NAME_BAD = re.compile(r"[^a-zA-Z0-9_]")


class Gauge(GaugeMetricFamily):
    """One gauge family, named without the prefix. Its series may carry different label
    names (each deployment its own labels), which add_metric, one list of label names
    per family, cannot write: add() takes them per series."""

    def __init__(self, name: str, documentation: str) -> None:
        super().__init__(PREFIX + name, documentation)

    def add(self, value: float | Decimal | int, **labels: str) -> None:
        self.samples.append(Sample(self.name, labels, float(value)))


def label_name(key: str) -> str:
    """A deployment label's key as a Prometheus label name: label_<key>, [a-zA-Z0-9_] only."""
    return "label_" + _LABEL_NAME_BAD.sub("_", key)


# -- what is measured ----------------------------------------------------------------


def _deployment_labels(name: str, node: str, labels: Any) -> dict[str, str]:
    out = {"deployment": name, "node": node}
    if isinstance(labels, Mapping):
        for key in sorted(labels, key=str):
            value = labels[key]
            # Two keys that sanitize alike ("a.b", "a-b") would repeat a label, which
            # Prometheus rejects: the first in sorted order keeps the name.
            out.setdefault(label_name(str(key)), "" if value is None else str(value))
    return out


def _labelled(ids: Iterable[int]) -> dict[int, dict[str, str]]:
    """Each deployment's Prometheus labels, in the order its series are written."""
    rows = Deployment.objects.filter(pk__in=set(ids)).values_list(
        "pk", "name", "node__name", "labels", "node__labels"
    )
    labelled = {
        pk: _deployment_labels(name, node, deployment_labels(own, node_labels))
        for pk, name, node, own, node_labels in rows
    }
    return dict(sorted(labelled.items(), key=lambda kv: tuple(kv[1].values())))


def deployment_gauges(hour: datetime) -> list[Gauge]:
    """Cost of the last complete hour, unit economics over the 24 hours to its end, and
    the latest capacity estimates: a few queries each, and one for all the labels."""
    end = hour + timedelta(hours=1)
    start = end - TOKENS_WINDOW
    rows = spend_steps(start, end, HOUR)
    figures = deployment_economics(start, end)
    capacity = capacity_estimates()
    day = {dep for _, dep, _, _ in rows if dep is not None}
    labelled = _labelled(day | set(figures) | set(capacity))
    return [
        *cost_gauges(hour, rows, figures, {k: v for k, v in labelled.items() if k in day}),
        *economics_gauges(figures, labelled),
        *capacity_gauges(capacity, labelled),
    ]


def cost_gauges(
    hour: datetime,
    rows: Iterable[SpendRow],
    figures: Mapping[int, Figures],
    labelled: Mapping[int, dict[str, str]],
) -> list[Gauge]:
    """The hour's $ per deployment and idle $, and $ per 1M tokens over the 24 hours to it
    (the tokens of the hourly rollups, as deployment_economics counts them)."""
    last_hour: dict[int, Decimal] = {}
    last_held: dict[int, Decimal] = {}
    day: dict[int, Decimal] = defaultdict(Decimal)
    unallocated = held = ZERO
    # As the dashboard's totals: a row without deployment is idle GPU time; a
    # deployment's idle-held $ is part of its own cost, counted here once more as idle.
    for ts, dep, usd, held_usd in rows:
        if dep is not None:
            day[dep] += usd
        if ts != hour:
            continue
        if dep is None:
            unallocated += usd
        else:
            last_hour[dep] = last_hour.get(dep, ZERO) + usd
            last_held[dep] = last_held.get(dep, ZERO) + held_usd
            held += held_usd
    cost = Gauge("deployment_cost_usd_per_hour", "$ of the last complete UTC hour, per deployment.")
    held_cost = Gauge(
        "deployment_idle_held_usd_per_hour",
        "Of the deployment's $ of the last complete UTC hour, what it held serving nothing.",
    )
    rate = Gauge(
        "deployment_usd_per_1m_tokens",
        "$ per million prompt plus generated tokens over the last 24 complete hours.",
    )
    for dep, labels in labelled.items():
        if dep in last_hour:
            cost.add(last_hour[dep], **labels)
            held_cost.add(last_held[dep], **labels)
        fig = figures.get(dep)
        value = per_1m(day[dep], fig.prompt_tokens + fig.generation_tokens if fig else 0)
        if value is not None:
            rate.add(value, **labels)
    idle = Gauge(
        "idle_cost_usd_per_hour",
        "Idle $ of the last complete UTC hour: kind=unallocated is GPU time no deployment "
        "held; kind=held is what deployments held while serving nothing (part of their cost).",
    )
    idle.add(unallocated, kind="unallocated")
    idle.add(held, kind="held")
    split = Gauge(
        "cost_usd_per_hour",
        "$ of the last complete UTC hour by kind of GPU time: active, idle_held (held by a "
        "deployment serving nothing) and truly_idle (held by none); they add up to the bill.",
    )
    split.add(sum(last_hour.values(), ZERO) - held, kind="active")
    split.add(held, kind="idle_held")
    split.add(unallocated, kind="truly_idle")
    stamp = Gauge("cost_hour_timestamp_seconds", "Start of the hour the per-hour $ figures cover.")
    stamp.add(int(hour.timestamp()))
    return [cost, held_cost, rate, idle, split, stamp]


def economics_gauges(
    figures: Mapping[int, Figures], labelled: Mapping[int, dict[str, str]]
) -> list[Gauge]:
    """Goodput, $ per good request and cache savings over the last 24 complete hours."""
    goodput = Gauge(
        "deployment_goodput_ratio",
        "Share of the requests of the last 24 complete hours that met every SLO target.",
    )
    per_good = Gauge(
        "deployment_usd_per_good_request",
        "$ of the last 24 complete hours per request that met every SLO target.",
    )
    cache = Gauge(
        "deployment_cache_net_savings_usd",
        "Prefill $ that prefix-cache hits saved over the last 24 complete hours, less the $ "
        "of recomputing preempted requests (deployments whose server reports its cache).",
    )
    for dep, labels in labelled.items():
        fig = figures.get(dep)
        if fig is None:
            continue
        if fig.goodput is not None:
            goodput.add(fig.goodput, **labels)
        if fig.usd_per_good_request is not None:
            per_good.add(fig.usd_per_good_request, **labels)
        if fig.cache_queries:
            cache.add(fig.cache_net_usd, **labels)
    return [goodput, per_good, cache]


def capacity_gauges(
    estimates: Mapping[int, CapacityEstimate], labelled: Mapping[int, dict[str, str]]
) -> list[Gauge]:
    """The hourly job's latest knee per deployment (none where it saw no traffic)."""
    rps = Gauge(
        "deployment_capacity_rps",
        "Requests/s the deployment carries within its SLO targets (the hourly estimate).",
    )
    bound = Gauge(
        "deployment_capacity_is_lower_bound",
        "1 where the load seen never reached the knee: the capacity is at least that much.",
    )
    headroom = Gauge(
        "deployment_headroom_ratio",
        "Share of the capacity left at the current load (negative past it).",
    )
    replicas = Gauge(
        "deployment_replicas_needed",
        "Replicas like this one the load needs: load=current, the estimate's last hour; "
        "load=peak, the busiest hour of its window.",
    )
    for dep, labels in labelled.items():
        estimate = estimates.get(dep)
        if estimate is None or estimate.capacity_rps is None:
            continue
        rps.add(estimate.capacity_rps, **labels)
        bound.add(int(estimate.is_lower_bound), **labels)
        if estimate.headroom is not None:
            headroom.add(estimate.headroom, **labels)
        for load, needed in (
            ("current", estimate.replicas_needed),
            ("peak", estimate.replicas_needed_peak),
        ):
            if needed is not None:
                replicas.add(needed, **labels, load=load)
    return [rps, bound, headroom, replicas]


def budget_gauges(now: datetime) -> list[Gauge]:
    used = Gauge("budget_used_ratio", "Month-to-date $ over the budget's monthly $ (UTC month).")
    forecast = Gauge("budget_forecast_ratio", "Forecast month-end $ over the budget's monthly $.")
    limit = Gauge("budget_monthly_usd", "The budget's monthly $.")
    for status in budget_statuses(now):
        monthly = status.budget.monthly_usd
        labels = {"budget": status.budget.name, "scope": status.budget.scope}
        limit.add(monthly, **labels)
        if monthly <= 0:
            continue  # below the admin's minimum, written some other way: no ratio
        used.add(status.used_fraction, **labels)
        forecast.add(status.forecast / monthly, **labels)
    return [used, forecast, limit]


def anomaly_gauge() -> Gauge:
    counts = dict(
        Anomaly.objects.filter(status=AnomalyStatus.OPEN)
        .values_list("severity")
        .annotate(n=Count("id"))
        .order_by()
    )
    gauge = Gauge("anomalies_open", "Open anomalies, by severity.")
    for severity in Severity.values:
        gauge.add(counts.get(severity, 0), severity=severity)
    return gauge


def agent_gauge(now: datetime) -> Gauge:
    gauge = Gauge(
        "agent_last_seen_age_seconds",
        "Seconds since each agent last posted (revoked agents and ones never seen left out).",
    )
    rows = Agent.objects.filter(revoked_at__isnull=True, last_seen_at__isnull=False)
    for name, seen in rows.order_by("name").values_list("name", "last_seen_at"):
        assert seen is not None  # filtered out above
        gauge.add(max(0.0, (now - seen).total_seconds()), agent=name)
    return gauge


def recommendation_gauges() -> list[Gauge]:
    count, usd = open_totals()
    opened = Gauge("recommendations_open", "Open recommendations.")
    opened.add(count)
    saving = Gauge(
        "recommendations_open_monthly_saving_usd",
        "What the open recommendations would save per month together.",
    )
    saving.add(usd)
    return [opened, saving]


def families(now: datetime) -> list[Gauge]:
    now = now.astimezone(UTC)
    hour = now.replace(minute=0, second=0, microsecond=0) - timedelta(hours=1)
    return [
        *deployment_gauges(hour),
        *budget_gauges(now),
        anomaly_gauge(),
        agent_gauge(now),
        *recommendation_gauges(),
    ]


class FleetCollector(Collector):
    """Every family, read afresh from the database at each scrape."""

    def collect(self) -> Iterator[Metric]:
        yield from families(timezone.now())


# Our own registry, not prometheus_client's global one: that one also holds the web
# process's own metrics (CPU, memory, GC), which are not the fleet's.
REGISTRY = CollectorRegistry()
REGISTRY.register(FleetCollector())


def render() -> bytes:
    return generate_latest(REGISTRY)


# -- the view ------------------------------------------------------------------------


class PrometheusTextRenderer(BaseRenderer):
    media_type = "text/plain"
    format = "txt"
    charset = "utf-8"

    def render(
        self,
        data: Any,
        accepted_media_type: str | None = None,
        renderer_context: Mapping[str, Any] | None = None,
    ) -> bytes:
        if isinstance(data, bytes):
            return data
        # An error ({"detail": ..., "errors": [...]}) as the one line a person reads.
        detail = data.get("detail") if isinstance(data, Mapping) else None
        return f"{detail if detail is not None else data}\n".encode()


class TextOnly(DefaultContentNegotiation):
    """Text whatever the Accept header says: a scraper asking for OpenMetrics first
    still gets the classic format (its Accept lists it), never a 406."""

    def select_renderer(
        self, request: Request, renderers: Iterable[BaseRenderer], format_suffix: str | None = None
    ) -> tuple[BaseRenderer, str]:
        renderer = next(iter(renderers))
        return renderer, renderer.media_type


@method_decorator(login_not_required, name="dispatch")
@extend_schema(exclude=True)
class MetricsView(APIView):
    """GET /metrics: any API token (read or write) or a logged-in session; 401 otherwise."""

    renderer_classes = [PrometheusTextRenderer]
    content_negotiation_class = TextOnly

    def get(self, request: Request) -> Response:
        return Response(render(), content_type=CONTENT_TYPE)
