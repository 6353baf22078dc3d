"""Every REST endpoint under /api/v1/, grouped by domain, mounted from this one file.

Each domain keeps its URL namespace (`costs:report`, `alerts:rule-list`, ...); the fleet,
its time series and the unit-economics views are the `api` namespace.
"""

from django.urls import include, path
from rest_framework.routers import SimpleRouter

from api.views import fleet, series

router = SimpleRouter(trailing_slash=False)
# The fleet, read-only: numbered pages.
router.register("nodes", fleet.NodeViewSet, basename="node")
router.register("gpus", fleet.GpuViewSet, basename="gpu")
router.register("deployments", fleet.DeploymentViewSet, basename="deployment")
router.register("agents", fleet.AgentViewSet, basename="agent")
# Time series: a bounded time range, cursor pages; ?format=csv|json streams it all.
router.register("samples/gpu", series.GpuSampleViewSet, basename="gpu-sample")
router.register("samples/inference", series.InferenceSampleViewSet, basename="inference-sample")
router.register("rollups/gpu", series.GpuRollupViewSet, basename="gpu-rollup")
router.register("rollups/inference", series.InferenceRollupViewSet, basename="inference-rollup")
router.register("cost-records", series.CostRecordViewSet, basename="cost-record")

fleet_and_series = [
    # Unit economics, idle time and capacity (costs/economics).
    path("economics/", include("costs.economics.urls")),
    *router.urls,
]

urlpatterns = [
    # What agents send: batches of samples (their token, not a login).
    path("", include("collectors.urls")),
    # Money: prices, budgets, the cost report.
    path("costs/", include("costs.urls")),
    # Judgements over the figures.
    path("anomalies/", include("anomaly.urls")),
    path("recommendations/", include("recommendations.urls")),
    path("profiling/", include("profiling.urls")),
    path("alerts/", include("alerts.urls")),
    # The fleet and its time series.
    path("", include((fleet_and_series, "api"))),
]
