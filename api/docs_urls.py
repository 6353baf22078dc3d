"""/api/schema/ and /api/docs/: the OpenAPI 3 schema and Swagger UI over it.

Neither is public (SERVE_PERMISSIONS). The schema answers an API client without a
session or token with a 401 body; the docs page, which people open in a browser,
sends them to the login page and back.
"""

from django.contrib.auth.decorators import login_required
from django.urls import path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

import api.schema  # noqa: F401  # registers the token schemes before any schema is built

urlpatterns = [
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", login_required(SpectacularSwaggerView.as_view(url_name="schema")), name="docs"),
]
