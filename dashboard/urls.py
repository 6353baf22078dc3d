from django.urls import path

from dashboard.views import (
    alerts,
    anomalies,
    costs,
    deployments,
    fleet,
    profiling,
    recommendations,
    settings,
)

app_name = "dashboard"

urlpatterns = [
    path("", fleet.overview, name="overview"),
    path("nodes/", fleet.nodes, name="nodes"),
    path("gpus/<int:pk>/", fleet.gpu_detail, name="gpu"),
    path("deployments/", deployments.deployments, name="deployments"),
    path("deployments/<int:pk>/", deployments.deployment_detail, name="deployment"),
    path(
        "deployments/<int:pk>/settings",
        deployments.deployment_settings,
        name="deployment-settings",
    ),
    path("costs/", costs.costs, name="costs"),
    path("alerts/", alerts.alerts, name="alerts"),
    path("alerts/channels/<int:pk>/test", alerts.alerts_channel_test, name="alerts-channel-test"),
    path("anomalies/", anomalies.anomalies, name="anomalies"),
    path("anomalies/<int:pk>/", anomalies.anomaly_detail, name="anomaly"),
    path("anomalies/<int:pk>/status", anomalies.anomaly_status, name="anomaly-status"),
    path("recommendations/", recommendations.recommendations, name="recommendations"),
    path(
        "recommendations/recompute",
        recommendations.recommendations_recompute_view,
        name="recommendations-recompute",
    ),
    path(
        "recommendations/<int:pk>/",
        recommendations.recommendation_detail,
        name="recommendation",
    ),
    path(
        "recommendations/<int:pk>/status",
        recommendations.recommendation_status,
        name="recommendation-status",
    ),
    path("profiling/", profiling.profiling, name="profiling"),
    path("profiling/new", profiling.profiling_new, name="profiling-new"),
    path("profiling/compare", profiling.profiling_compare, name="profiling-compare"),
    path("profiling/<int:pk>/", profiling.profiling_job, name="profiling-job"),
    path("profiling/<int:pk>/cancel", profiling.profiling_cancel, name="profiling-cancel"),
    path("settings/", settings.settings_page, name="settings"),
    path("settings/agents/new", settings.agent_new, name="agent-new"),
    path("settings/agents/<int:pk>/revoke", settings.agent_revoke_view, name="agent-revoke"),
    path("settings/tokens/new", settings.api_token_new, name="api-token-new"),
    path(
        "settings/tokens/<int:pk>/revoke", settings.api_token_revoke_view, name="api-token-revoke"
    ),
]
