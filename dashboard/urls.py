from django.urls import path

from dashboard import views

app_name = "dashboard"

urlpatterns = [
    path("", views.overview, name="overview"),
    path("costs/", views.costs, name="costs"),
    path("alerts/", views.alerts, name="alerts"),
    path("anomalies/", views.anomalies, name="anomalies"),
    path("anomalies/<int:pk>/", views.anomaly_detail, name="anomaly"),
    path("anomalies/<int:pk>/status", views.anomaly_status, name="anomaly-status"),
    path("alerts/channels/<int:pk>/test", views.alerts_channel_test, name="alerts-channel-test"),
]
