from django.urls import path

from anomaly import api

app_name = "anomaly"

urlpatterns = [
    path("", api.AnomalyListView.as_view(), name="list"),
    path("<int:pk>", api.AnomalyDetailView.as_view(), name="detail"),
    path("<int:pk>/status", api.AnomalyStatusView.as_view(), name="status"),
]
