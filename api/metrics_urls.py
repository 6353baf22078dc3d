"""/metrics in Prometheus text format."""

from django.urls import path

from api.metrics import MetricsView

urlpatterns = [path("metrics", MetricsView.as_view(), name="metrics")]
