"""The alerts API: channels, rules and silences as CRUD; alerts and deliveries read-only;
one view to send a channel's test message.

Anyone logged in reads; writing needs the model's Django permissions. Views are
exempt from the login redirect so an API client gets a 403 body, not a login page.
"""

from django.contrib.auth.decorators import login_not_required
from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from django.utils.decorators import method_decorator
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import permissions, viewsets
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import BaseSerializer
from rest_framework.views import APIView

from alerts.choices import AlertState, DeliveryStatus
from alerts.models import Alert, Channel, Delivery, Rule, Silence
from alerts.serializers import (
    AlertSerializer,
    ChannelSerializer,
    DeliverySerializer,
    RuleSerializer,
    SilenceSerializer,
)
from alerts.services import channel_send_test
from inferscope.lib.drf.errors import FieldErrors
from inferscope.lib.drf.pagination import PagePagination
from inferscope.lib.drf.views import ListExportView


class AlertsViewSet(ListExportView, viewsets.ModelViewSet):
    permission_classes = [permissions.DjangoModelPermissions]
    pagination_class = PagePagination


class AlertsReadOnlyViewSet(ListExportView, viewsets.ReadOnlyModelViewSet):
    permission_classes = [permissions.IsAuthenticated]
    pagination_class = PagePagination


class ChannelViewSet(AlertsViewSet):
    queryset = Channel.objects.all()
    serializer_class = ChannelSerializer
    time_field = "created_at"
    export_name = "alert-channels"


class RuleViewSet(AlertsViewSet):
    queryset = Rule.objects.prefetch_related("channels")
    serializer_class = RuleSerializer
    time_field = "created_at"
    export_name = "alert-rules"


class SilenceViewSet(AlertsViewSet):
    queryset = Silence.objects.all()
    serializer_class = SilenceSerializer
    time_field = "created_at"
    export_name = "silences"

    def perform_create(self, serializer: BaseSerializer) -> None:
        serializer.save(created_by=self.request.user)


def _choice(request: Request, name: str, allowed: list[str]) -> str:
    """A filter's value, "" when absent; anything else is a 400 rather than an empty list
    (or, holding NUL, a database error)."""
    value = request.query_params.get(name, "")
    if value not in ("", *allowed):
        raise FieldErrors([{"field": name, "message": f"One of: {', '.join(allowed)}."}])
    return value


@extend_schema_view(
    list=extend_schema(parameters=[OpenApiParameter("state", enum=AlertState.values)])
)
class AlertViewSet(AlertsReadOnlyViewSet):
    serializer_class = AlertSerializer
    # Every alert has started (a pending one has not fired yet).
    time_field = "started_at"
    export_name = "alerts"

    def get_queryset(self) -> QuerySet[Alert]:
        alerts = Alert.objects.select_related("rule")
        state = _choice(self.request, "state", AlertState.values)
        return alerts.filter(state=state) if state else alerts


@extend_schema_view(
    list=extend_schema(parameters=[OpenApiParameter("status", enum=DeliveryStatus.values)])
)
class DeliveryViewSet(AlertsReadOnlyViewSet):
    serializer_class = DeliverySerializer
    time_field = "created_at"
    export_name = "deliveries"

    def get_queryset(self) -> QuerySet[Delivery]:
        deliveries = Delivery.objects.select_related("channel", "event").prefetch_related(
            "attempt_log"
        )
        status = _choice(self.request, "status", DeliveryStatus.values)
        return deliveries.filter(status=status) if status else deliveries


class CanChangeChannels(permissions.BasePermission):
    """Sending a test is changing a channel's state, as on the page."""

    message = "Sending a test message needs the permission to change channels."

    def has_permission(self, request: Request, view: APIView) -> bool:
        return bool(request.user and request.user.has_perm("alerts.change_channel"))


@method_decorator(login_not_required, name="dispatch")
class ChannelTestView(APIView):
    """POST: send the channel a test message now; answers with the logged delivery."""

    permission_classes = [permissions.IsAuthenticated, CanChangeChannels]

    @extend_schema(
        request=None,
        responses={200: DeliverySerializer, 502: DeliverySerializer},
        description="200 when the message was sent, 502 when the channel refused it.",
    )
    def post(self, request: Request, pk: int) -> Response:
        channel = get_object_or_404(Channel, pk=pk)
        delivery = channel_send_test(channel)
        status = 200 if delivery.status == "sent" else 502
        return Response(DeliverySerializer(delivery).data, status=status)
