from typing import Any

from django.contrib import admin
from django.db.models import Min, QuerySet
from django.http import HttpRequest

from costs.models import Budget, CostRecord, HostedAlternative, NodePrice, PriceBookEntry
from costs.services import prices_changed
from inferscope.lib.admin import MeasuredAdmin


class PriceAdmin(admin.ModelAdmin):
    """Saving or deleting a price re-prices every hour from the earliest day it touches."""

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        old = None
        if change:
            old = type(obj).objects.filter(pk=obj.pk).values_list("valid_from", flat=True).first()
        super().save_model(request, obj, form, change)
        prices_changed(min(old, obj.valid_from) if old else obj.valid_from)

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        super().delete_model(request, obj)
        prices_changed(obj.valid_from)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        earliest = queryset.aggregate(earliest=Min("valid_from"))["earliest"]
        super().delete_queryset(request, queryset)
        if earliest is not None:
            prices_changed(earliest)


@admin.register(PriceBookEntry)
class PriceBookEntryAdmin(PriceAdmin):
    list_display = ["gpu_model", "kind", "usd_per_gpu_hour", "valid_from", "source"]
    list_filter = ["kind", "gpu_model"]
    search_fields = ["gpu_model", "source"]


@admin.register(NodePrice)
class NodePriceAdmin(PriceAdmin):
    list_display = [
        "node",
        "kind",
        "valid_from",
        "usd_per_gpu_hour",
        "purchase_usd_per_gpu",
        "amortize_years",
        "usd_per_kwh",
        "pue",
    ]
    list_filter = ["kind"]
    list_select_related = ["node"]
    search_fields = ["node__name"]


@admin.register(Budget)
class BudgetAdmin(admin.ModelAdmin):
    list_display = ["name", "scope", "monthly_usd", "created_at"]
    list_select_related = ["deployment__node"]
    search_fields = ["name", "label_key", "label_value"]


@admin.register(HostedAlternative)
class HostedAlternativeAdmin(admin.ModelAdmin):
    list_display = ["name", "deployment", "usd_per_1m_input", "usd_per_1m_output"]
    list_select_related = ["deployment__node"]
    search_fields = ["name", "deployment__name"]


@admin.register(CostRecord)
class CostRecordAdmin(MeasuredAdmin):
    list_display = ["hour", "gpu", "deployment", "usd", "idle_held_usd", "gpu_hours", "pricing"]
    list_filter = ["hour", "gpu", "deployment"]
    list_select_related = ["gpu__node", "deployment__node"]
    ordering = ["-hour"]
