from django.urls import path

from recommendations import api

app_name = "recommendations"

urlpatterns = [
    path("", api.RecommendationListView.as_view(), name="list"),
    path("recompute", api.RecomputeView.as_view(), name="recompute"),
    path("<int:pk>", api.RecommendationDetailView.as_view(), name="detail"),
    path("<int:pk>/status", api.RecommendationStatusView.as_view(), name="status"),
]
