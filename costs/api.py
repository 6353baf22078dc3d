"""The costs API: prices, budgets and hosted alternatives as CRUD; the report and
budget states as one read-only view each.

Anyone logged in reads; writing needs the model's Django permissions. Views are
exempt from the login redirect so an API client gets a 403 body, not a login page.
"""

import re
from typing import cast

from django.contrib.auth.decorators import login_not_required
from django.http import HttpResponse
from django.utils.decorators import method_decorator
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import permissions, viewsets
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import BaseSerializer
from rest_framework.views import APIView

from costs.budgets import budget_statuses
from costs.models import Budget, HostedAlternative, NodePrice, PriceBookEntry
from costs.report import render, report_rows
from costs.serializers import (
    BudgetSerializer,
    BudgetStatusSerializer,
    CostReportSerializer,
    HostedAlternativeSerializer,
    NodePriceSerializer,
    PriceBookEntrySerializer,
    ReportQuerySerializer,
)
from costs.services import prices_changed
from inferscope.lib.drf.pagination import PagePagination
from inferscope.lib.drf.query import UntimedQuerySerializer
from inferscope.lib.drf.views import ListExportView


class CostsViewSet(ListExportView, viewsets.ModelViewSet):
    permission_classes = [permissions.DjangoModelPermissions]
    pagination_class = PagePagination


class PricedViewSet(CostsViewSet):
    """A price change re-prices every hour from the earliest day it touches."""

    def perform_create(self, serializer: BaseSerializer) -> None:
        entry = serializer.save()
        prices_changed(entry.valid_from)

    def perform_update(self, serializer: BaseSerializer) -> None:
        old = cast(PriceBookEntry | NodePrice, serializer.instance).valid_from
        entry = serializer.save()
        prices_changed(min(old, entry.valid_from))

    def perform_destroy(self, instance: PriceBookEntry | NodePrice) -> None:
        valid_from = instance.valid_from
        instance.delete()
        prices_changed(valid_from)


class PriceBookEntryViewSet(PricedViewSet):
    queryset = PriceBookEntry.objects.all()
    serializer_class = PriceBookEntrySerializer
    time_field = "valid_from"  # a day: kept when its midnight UTC is in the range
    export_name = "prices"


class NodePriceViewSet(PricedViewSet):
    queryset = NodePrice.objects.select_related("node")
    serializer_class = NodePriceSerializer
    time_field = "valid_from"
    export_name = "node-prices"


class BudgetViewSet(CostsViewSet):
    queryset = Budget.objects.select_related("deployment__node")
    serializer_class = BudgetSerializer
    time_field = "created_at"
    export_name = "budgets"


class HostedAlternativeViewSet(CostsViewSet):
    queryset = HostedAlternative.objects.order_by("name")
    serializer_class = HostedAlternativeSerializer
    query_serializer_class = UntimedQuerySerializer  # no time of its own
    export_name = "hosted-alternatives"


@method_decorator(login_not_required, name="dispatch")
class ReportView(APIView):
    """GET the chargeback report as JSON or CSV: the rows of `cost_report`, each with its
    $ split into active, idle-held and truly idle GPU time. At most 400 days."""

    @extend_schema(
        parameters=[ReportQuerySerializer],
        responses={
            (200, "application/json"): CostReportSerializer,
            (200, "text/csv"): OpenApiTypes.STR,
        },
    )
    def get(self, request: Request) -> HttpResponse:
        query = ReportQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        params = query.validated_data
        start, end = params["start"], params["end"]
        by, fmt = params["by"], params["format"]
        body = render(report_rows(start, end, by), fmt, start, end, by)
        if fmt == "json":
            return HttpResponse(body, content_type="application/json")
        response = HttpResponse(body, content_type="text/csv; charset=utf-8")
        # A label key is free text; only safe characters go into the header.
        name = re.sub(
            r"[^\w.-]+",
            "-",
            f"costs-{request.query_params['start']}-{request.query_params['end']}-{by}",
            flags=re.ASCII,
        )
        filename = f"{name}.csv"
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
        return response


@method_decorator(login_not_required, name="dispatch")
class BudgetStatusView(APIView):
    """GET every budget's month-to-date spend, month-end forecast and state."""

    @extend_schema(responses=BudgetStatusSerializer(many=True))
    def get(self, request: Request) -> Response:
        return Response(BudgetStatusSerializer(budget_statuses(), many=True).data)
