from django.urls import path
from rest_framework.routers import SimpleRouter

from alerts import api

app_name = "alerts"

router = SimpleRouter(trailing_slash=False)
# What people set up.
router.register("channels", api.ChannelViewSet, basename="channel")
router.register("rules", api.RuleViewSet, basename="rule")
router.register("silences", api.SilenceViewSet, basename="silence")
# What the jobs wrote.
router.register("alerts", api.AlertViewSet, basename="alert")
router.register("deliveries", api.DeliveryViewSet, basename="delivery")

urlpatterns = [
    path("channels/<int:pk>/test", api.ChannelTestView.as_view(), name="channel-test"),
    *router.urls,
]
