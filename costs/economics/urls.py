"""/api/v1/economics/: included from api/urls.py, under the api namespace."""

from django.urls import path
from rest_framework.routers import SimpleRouter

from costs.economics import api

app_name = "economics"

router = SimpleRouter(trailing_slash=False)
# Per deployment over a period, paged; ?format=csv|json downloads every row.
router.register("deployments", api.DeploymentEconomicsViewSet, basename="deployment")
# The hourly job's latest knee per deployment.
router.register("capacity", api.CapacityViewSet, basename="capacity")

urlpatterns = [
    # The three kinds of GPU time: over time, and per group.
    path("idle/series", api.IdleSeriesView.as_view(), name="idle-series"),
    path("idle/report", api.IdleReportView.as_view(), name="idle-report"),
    *router.urls,
]
