from django.contrib.auth.decorators import login_not_required
from django.urls import path

from collectors.api import IngestView

app_name = "collectors"

urlpatterns = [
    # Agents authenticate with their token, not a browser session.
    path("ingest", login_not_required(IngestView.as_view()), name="ingest"),
]
