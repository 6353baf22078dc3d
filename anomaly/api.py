"""The anomalies API: anyone logged in (or with a token) reads; changing a status needs
the permission the anomaly page's buttons need, anomaly.change_anomaly."""

from collections.abc import Sequence

from django.contrib.auth.decorators import login_not_required
from django.contrib.auth.models import User
from django.db.models import Q, QuerySet
from django.shortcuts import get_object_or_404
from django.utils.decorators import method_decorator
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import generics, status
from rest_framework.request import Request
from rest_framework.response import Response

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
from inferscope.lib.drf.pagination import PagePagination
from inferscope.lib.drf.views import ListExportView

CHANGE = "anomaly.change_anomaly"
_RELATED = ("gpu__node", "deployment__node", "node", "status_changed_by")


class AnomalyPagination(PagePagination):
    page_size = DEFAULT_PAGE_SIZE
    max_page_size = MAX_PAGE_SIZE


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
class AnomalyListView(ListExportView, generics.ListAPIView):
    """Newest first, a page at a time; every filter given must match."""

    serializer_class = AnomalySerializer
    pagination_class = AnomalyPagination
    query_serializer_class = AnomalyFilterSerializer
    queryset = Anomaly.objects.all()
    export_name = "anomalies"

    def get_queryset(self) -> QuerySet[Anomaly]:
        # The selector keeps the anomalies that overlap [start, end).
        data = self.query
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
