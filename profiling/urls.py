from django.urls import path

from profiling import api

app_name = "profiling"

urlpatterns = [
    # People.
    path("jobs", api.JobListView.as_view(), name="jobs"),
    path("jobs/<int:pk>", api.JobDetailView.as_view(), name="job"),
    path("jobs/<int:pk>/cancel", api.JobCancelView.as_view(), name="job-cancel"),
    # Agents, with their token.
    path("agent/poll", api.PollView.as_view(), name="agent-poll"),
    path("agent/jobs/<int:pk>/report", api.ReportView.as_view(), name="agent-report"),
    path("runs", api.RunImportView.as_view(), name="runs"),
]
