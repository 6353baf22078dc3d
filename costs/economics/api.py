"""/api/v1/economics/: what a deployment's GPU time bought, read-only.

- `deployments`: each deployment's prefill/decode $, cache savings and goodput
  over a period (costs.economics.selectors.deployment_economics);
- `idle/series` and `idle/report`: the bill as active, idle-held and truly idle
  GPU time, per step or per group (idle_series, costs.selectors.cost_by);
- `capacity` and `capacity/<deployment id>`: the hourly job's latest knee.

Any logged-in person or API token reads; views are exempt from the login redirect
so a client gets a 401 body, not a login page. Periods are whole UTC hours.
"""

from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from django.contrib.auth.decorators import login_not_required
from django.http import HttpResponseBase
from django.utils.decorators import method_decorator
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, viewsets
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from collectors.models import Deployment, settings_for
from collectors.scope import cost_scope_ids, deployment_ids
from costs.economics.selectors import capacity_estimates, deployment_economics, idle_series
from costs.economics.serializers import (
    STEPS,
    CapacityEstimateDetailSerializer,
    CapacityEstimateSerializer,
    CapacityQuerySerializer,
    DeploymentEconomics,
    DeploymentEconomicsSerializer,
    DeploymentsQuerySerializer,
    IdleGroupSerializer,
    IdleReportQuerySerializer,
    IdleReportSerializer,
    IdleSeriesQuerySerializer,
    IdleSeriesSerializer,
    IdleStepSerializer,
    idle_totals,
)
from costs.selectors import cost_by
from costs.spend import Scope
from inferscope.lib.drf.export import export_response
from inferscope.lib.drf.pagination import PagePagination, WindowPagePagination
from inferscope.lib.drf.views import ListExportView, validated_query
from inferscope.lib.filters import Filters
from telemetry.models.capacity import CapacityEstimate

_DOWNLOAD = {(200, "text/csv"): OpenApiTypes.STR}


def _cells(data: Iterable[dict[str, Any]], header: Sequence[str]) -> Iterator[list[Any]]:
    return ([row[name] for name in header] for row in data)


def _filename(stem: str, query: dict[str, Any]) -> str:
    return "-".join([stem, *(query[f].strftime("%Y%m%dT%H%MZ") for f in ("start", "end"))])


class DeploymentEconomicsViewSet(ListExportView, viewsets.GenericViewSet):
    """Each deployment's figures over `start`–`end` (whole UTC hours; the last 30 days
    by default): its cost split into active and idle-held, and into prefill and
    decode, $ per 1M prompt and generated tokens, prefix-cache savings, and goodput
    against its SLO targets. Deployments with cost or traffic in the period, most $
    first. Filters: deployment, node, gpu (the deployments on it), label."""

    queryset = Deployment.objects.none()  # rows come from costs.economics.selectors
    serializer_class = DeploymentEconomicsSerializer
    query_serializer_class = DeploymentsQuerySerializer
    pagination_class = WindowPagePagination
    export_name = "economics-deployments"

    def list_rows(self) -> list[DeploymentEconomics]:
        query = self.query
        figures = deployment_economics(query["start"], query["end"], deployment_ids(self.filters()))
        deployments = Deployment.objects.select_related("node", "settings").in_bulk(list(figures))
        rows = [
            DeploymentEconomics(dep, figures[pk], settings_for(dep))
            for pk, dep in deployments.items()
        ]
        rows.sort(key=lambda r: (-r.figures.cost_usd, r.deployment.name, r.deployment.node.name))
        return rows


class CapacityViewSet(ListExportView, viewsets.GenericViewSet):
    """The latest capacity estimate of each deployment (the hourly job's): requests/s
    it carries within its SLO, headroom at the current load and replicas needed.
    Filters: deployment, node, gpu, label. The detail adds the knee's workings."""

    queryset = CapacityEstimate.objects.none()
    serializer_class = CapacityEstimateSerializer
    query_serializer_class = CapacityQuerySerializer
    pagination_class = PagePagination
    export_name = "capacity"
    lookup_field = "deployment"

    def get_serializer_class(self) -> type[serializers.Serializer]:
        if self.action == "retrieve":
            return CapacityEstimateDetailSerializer
        return CapacityEstimateSerializer

    def list_rows(self) -> list[CapacityEstimate]:
        estimates = capacity_estimates(deployment_ids(self.filters()))
        return sorted(
            estimates.values(),
            key=lambda e: (e.deployment.name, e.deployment.node.name, e.deployment_id),
        )

    def retrieve(self, request: Request, deployment: str) -> Response:
        estimate = None
        if deployment.isdigit() and len(deployment) <= 18:
            estimate = capacity_estimates([int(deployment)]).get(int(deployment))
        if estimate is None:
            raise NotFound("No capacity estimate for this deployment.")
        return Response(CapacityEstimateDetailSerializer(estimate).data)


def _download(response: Response, name: str) -> Response:
    response["Content-Disposition"] = f'attachment; filename="{name}.json"'
    return response


@method_decorator(login_not_required, name="dispatch")
class IdleSeriesView(APIView):
    """GET the bill of each `step` (hour or day) as active, idle-held and truly idle
    GPU time, and their totals, over `start`–`end` (whole UTC hours; the last 30 days
    by default). Unfiltered, each step's three parts add up to the fleet's bill.
    `?format=csv` downloads the steps; `?format=json` this answer."""

    @extend_schema(
        parameters=[IdleSeriesQuerySerializer],
        responses={(200, "application/json"): IdleSeriesSerializer, **_DOWNLOAD},
    )
    def get(self, request: Request) -> HttpResponseBase:
        query = validated_query(IdleSeriesQuerySerializer, request)
        scope = cost_scope_ids(_filters(query))
        steps = idle_series(
            query["start"],
            query["end"],
            STEPS[query["step"]],
            None if scope is None else Scope(*scope),
        )
        name = f"{_filename('economics-idle', query)}-{query['step']}"
        if query.get("format") == "csv":
            header = list(IdleStepSerializer().fields)
            data = IdleStepSerializer(steps, many=True).data
            return export_response(header, _cells(data, header), "csv", name)
        body = {
            "start": query["start"],
            "end": query["end"],
            "step": query["step"],
            "totals": idle_totals(steps),
            "results": steps,
        }
        response = Response(IdleSeriesSerializer(body).data)
        return _download(response, name) if query.get("format") == "json" else response


@method_decorator(login_not_required, name="dispatch")
class IdleReportView(APIView):
    """GET the bill of each group (`by` = deployment, node, gpu or label:KEY) as active,
    idle-held and truly idle GPU time over `start`–`end` (whole UTC hours; the last 30
    days by default), and the total, whose three parts add up to the fleet's bill.
    Truly idle time is a row of its own, `(idle)`, when grouped by deployment or label.
    `?format=csv` downloads the groups and the total (last); `?format=json` this answer."""

    @extend_schema(
        parameters=[IdleReportQuerySerializer],
        responses={(200, "application/json"): IdleReportSerializer, **_DOWNLOAD},
    )
    def get(self, request: Request) -> HttpResponseBase:
        query = validated_query(IdleReportQuerySerializer, request)
        *groups, total = cost_by(query["start"], query["end"], query["by"])
        name = f"{_filename('economics-idle', query)}-{query['by']}"
        if query.get("format") == "csv":
            header = list(IdleGroupSerializer().fields)
            data = IdleGroupSerializer([*groups, total], many=True).data
            return export_response(header, _cells(data, header), "csv", name)
        body = {**query, "rows": groups, "total": total}
        response = Response(IdleReportSerializer(body).data)
        return _download(response, name) if query.get("format") == "json" else response


def _filters(query: dict[str, Any]) -> Filters:
    return Filters(
        nodes=query.get("node", ()),
        deployments=query.get("deployment", ()),
        labels=query.get("label", ()),
    )
