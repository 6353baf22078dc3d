from django.urls import path
from rest_framework.routers import SimpleRouter

from costs import api

app_name = "costs"

router = SimpleRouter(trailing_slash=False)
# Prices: a change re-prices the hours it covers.
router.register("prices", api.PriceBookEntryViewSet, basename="price")
router.register("node-prices", api.NodePriceViewSet, basename="node-price")
# Budgets and what-ifs.
router.register("budgets", api.BudgetViewSet, basename="budget")
router.register("hosted-alternatives", api.HostedAlternativeViewSet, basename="hosted-alternative")

urlpatterns = [
    path("report", api.ReportView.as_view(), name="report"),
    # Before the router, whose budgets/<pk> would otherwise take "status" for a pk.
    path("budgets/status", api.BudgetStatusView.as_view(), name="budget-status"),
    *router.urls,
]
