from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from inferscope.views import healthz

handler500 = "inferscope.views.server_error"

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    path("api/v1/", include("api.urls")),
    path("api/", include("api.docs_urls")),
    path("", include("api.metrics_urls")),
    path("", include("dashboard.urls")),
]
