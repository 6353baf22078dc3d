"""/api/v1/ endpoints of the api app: the fleet, its time series, and their exports;
and /api/v1/economics/ (economics/urls.py)."""

from django.urls import include, path
from rest_framework.routers import SimpleRouter

from api.views import fleet, series

app_name = "api"

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

urlpatterns = [
    # Unit economics, idle time and capacity (the economics app's views).
    path("economics/", include("economics.urls")),
    *router.urls,
]
