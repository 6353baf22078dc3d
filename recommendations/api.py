"""The recommendations API: anyone logged in reads; changing a status or recomputing
needs the change permission. Session auth here; tokens come with the REST export."""

from django.contrib.auth.decorators import login_not_required
from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from django.utils.decorators import method_decorator
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import generics, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from inferscope.lib.drf.errors import FieldErrors
from inferscope.lib.drf.pagination import PagePagination
from inferscope.lib.drf.views import ListExportView
from recommendations.choices import RecommendationStatus
from recommendations.models import Recommendation
from recommendations.rules import RULES
from recommendations.selectors import recommendations_list
from recommendations.serializers import (
    RecommendationDetailSerializer,
    RecommendationSerializer,
    RecomputeAnswerSerializer,
    StatusChangeSerializer,
)
from recommendations.services import (
    ActionError,
    recommendation_dismiss,
    recommendation_done,
    recommendation_reopen,
    recommendation_snooze,
    recommendations_recompute,
)

CHANGE = "recommendations.change_recommendation"


def _forbidden(what: str) -> Response:
    return Response({"detail": f"You may not {what}.", "errors": []}, status.HTTP_403_FORBIDDEN)


@extend_schema_view(
    get=extend_schema(
        parameters=[
            OpenApiParameter(
                "status", enum=RecommendationStatus.values, description="default open"
            ),
            OpenApiParameter("rule", enum=list(RULES)),
        ]
    )
)
class RecommendationListView(ListExportView, generics.ListAPIView):
    """Largest saving first; `status` (default open) and `rule` filter."""

    serializer_class = RecommendationSerializer
    pagination_class = PagePagination
    queryset = Recommendation.objects.all()
    time_field = "first_seen_at"
    export_name = "recommendations"

    def get_queryset(self) -> QuerySet[Recommendation]:
        params = self.request.query_params
        wanted, rule = params.get("status", ""), params.get("rule", "")
        errors = []
        if wanted not in ("", *RecommendationStatus.values):
            errors.append({"field": "status", "message": "Not a recommendation status."})
        if rule and rule not in RULES:
            errors.append({"field": "rule", "message": f"Not a rule: {', '.join(RULES)}."})
        if errors:
            raise FieldErrors(errors)
        return recommendations_list(wanted, rule)


@method_decorator(login_not_required, name="dispatch")
class RecommendationDetailView(generics.RetrieveAPIView):
    serializer_class = RecommendationDetailSerializer
    queryset = Recommendation.objects.all()


@method_decorator(login_not_required, name="dispatch")
class RecommendationStatusView(APIView):
    """{"action": "dismiss" | "snooze" | "done" | "reopen", "until": ISO time for snooze}."""

    @extend_schema(request=StatusChangeSerializer, responses=RecommendationDetailSerializer)
    def post(self, request: Request, pk: int) -> Response:
        if not request.user.has_perm(CHANGE):
            return _forbidden("change recommendations")
        rec = get_object_or_404(Recommendation, pk=pk)
        serializer = StatusChangeSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        action = serializer.validated_data["action"]
        try:
            if action == "dismiss":
                recommendation_dismiss(rec)
            elif action == "snooze":
                recommendation_snooze(rec, serializer.validated_data["until"])
            elif action == "done":
                recommendation_done(rec)
            else:
                recommendation_reopen(rec)
        except ActionError as exc:
            raise FieldErrors([{"field": "action", "message": str(exc)}]) from None
        return Response(RecommendationDetailSerializer(rec).data)


@method_decorator(login_not_required, name="dispatch")
class RecomputeView(APIView):
    """Runs every rule now, as the daily job does, and says what changed."""

    @extend_schema(request=None, responses=RecomputeAnswerSerializer)
    def post(self, request: Request) -> Response:
        if not request.user.has_perm(CHANGE):
            return _forbidden("recompute recommendations")
        summary = recommendations_recompute()
        return Response(
            {"found": summary.found, "opened": summary.opened, "closed": summary.closed}
        )
