"""The anomalies API: anyone logged in (or with a token) reads; changing a status needs
the permission the anomaly page's buttons need, anomaly.change_anomaly."""

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from django.contrib.auth.decorators import login_not_required
from django.contrib.auth.models import User
from django.db.models import Q, QuerySet
from django.shortcuts import get_object_or_404
from django.utils.decorators import method_decorator
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import generics, status
from rest_framework.exceptions import NotFound
from rest_framework.pagination import PageNumberPagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from anomaly.models import Anomaly
from anomaly.selectors import anomalies_filtered
from anomaly.serializers import (
    DEFAULT_PAGE_SIZE,
    MAX_PAGE_SIZE,
    AnomalyFilterSerializer,
    AnomalySerializer,
    AnomalyStatusSerializer,
)
from anomaly.services import anomaly_set_status
from inferscope.lib.drf.errors import FieldErrors
from inferscope.lib.drf.mixins import TimeRangeExportMixin

CHANGE = "anomaly.change_anomaly"
_RELATED = ("gpu__node", "deployment__node", "node", "status_changed_by")


class AnomalyPagination(PageNumberPagination):
    page_size = DEFAULT_PAGE_SIZE
    page_size_query_param = "page_size"
    max_page_size = MAX_PAGE_SIZE

    def paginate_queryset(
        self, queryset: QuerySet[Any, Any], request: Request, view: APIView | None = None
    ) -> list[Any] | None:
        # A page past the last is a bad parameter like any other (DRF says 404).
        try:
            return super().paginate_queryset(queryset, request, view)
        except NotFound:
            raise FieldErrors(
                [{"field": "page", "message": "There is no such page."}], "Invalid request."
            ) from None


def _entities(gpus: Sequence[int], nodes: Sequence[int], deployments: Sequence[int]) -> Q | None:
    """Anomalies of any of the entities given (each anomaly is about one entity, so the
    filters widen each other); a node's take in its GPUs' and deployments'."""
    q = Q()
    if gpus:
        q |= Q(gpu__in=gpus)
    if deployments:
        q |= Q(deployment__in=deployments)
    if nodes:
        q |= Q(node__in=nodes) | Q(gpu__node__in=nodes) | Q(deployment__node__in=nodes)
    return q or None


@extend_schema_view(get=extend_schema(parameters=[AnomalyFilterSerializer]))
@method_decorator(login_not_required, name="dispatch")
class AnomalyListView(TimeRangeExportMixin, generics.ListAPIView):
    """Newest first, a page at a time; every filter given must match."""

    serializer_class = AnomalySerializer
    pagination_class = AnomalyPagination
    queryset = Anomaly.objects.all()
    time_field = "start"
    time_parameters_described = True  # AnomalyFilterSerializer's start and end
    export_name = "anomalies"

    def filter_time_range(
        self, queryset: QuerySet[Any], start: datetime | None, end: datetime | None
    ) -> QuerySet[Any]:
        # get_queryset's selector keeps the anomalies that overlap [start, end).
        return queryset

    def get_queryset(self) -> QuerySet[Anomaly]:
        filters = AnomalyFilterSerializer(data=self.request.query_params)
        filters.is_valid(raise_exception=True)
        data = filters.validated_data
        rows = anomalies_filtered(
            status=data.get("status", ""),
            severity=data.get("severity", ""),
            metric=data.get("metric", ""),
            kind=data.get("kind", ""),
            start=data.get("start"),
            end=data.get("end"),
        )
        entities = _entities(data.get("gpu", []), data.get("node", []), data.get("deployment", []))
        if entities is not None:
            rows = rows.filter(entities)
        # The id breaks ties, so a page boundary never repeats or skips a row.
        return rows.select_related(*_RELATED).order_by("-start", "-id")


@method_decorator(login_not_required, name="dispatch")
class AnomalyDetailView(generics.RetrieveAPIView):
    serializer_class = AnomalySerializer
    queryset = Anomaly.objects.select_related(*_RELATED)


@method_decorator(login_not_required, name="dispatch")
class AnomalyStatusView(generics.GenericAPIView):
    """{"status": "open" | "acknowledged" | "resolved" | "false_positive"}; a false
    positive makes that metric's detector less eager for the entity."""

    serializer_class = AnomalyStatusSerializer
    queryset = Anomaly.objects.all()

    @extend_schema(request=AnomalyStatusSerializer, responses=AnomalySerializer)
    def post(self, request: Request, pk: int) -> Response:
        user = request.user
        if not isinstance(user, User) or not user.has_perm(CHANGE):
            return Response(
                {"detail": "You may not change anomalies.", "errors": []},
                status=status.HTTP_403_FORBIDDEN,
            )
        anomaly = get_object_or_404(Anomaly, pk=pk)
        serializer = AnomalyStatusSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        anomaly_set_status(anomaly, serializer.validated_data["status"], user)
        changed = get_object_or_404(Anomaly.objects.select_related(*_RELATED), pk=pk)
        return Response(AnomalySerializer(changed).data)
