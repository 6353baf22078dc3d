from django.urls import path

from dashboard import views

app_name = "dashboard"

urlpatterns = [
    path("", views.overview, name="overview"),
    path("costs/", views.costs, name="costs"),
    path("alerts/", views.alerts, name="alerts"),
    path("alerts/channels/<int:pk>/test", views.alerts_channel_test, name="alerts-channel-test"),
]
