from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from anomaly.choices import AnomalyStatus
from anomaly.models import Anomaly, DetectorModel, DetectorTuning
from anomaly.services import anomaly_set_status
from inferscope.lib.admin import ReadOnlyAdmin


def _set_status(status: str, label: str) -> admin.action:  # type: ignore[valid-type]
    def action(modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet) -> None:
        for anomaly in queryset:
            anomaly_set_status(anomaly, status, request.user)  # type: ignore[arg-type]
        messages.success(request, f"{queryset.count()} anomalies marked {label.lower()}.")

    action.__name__ = f"mark_{status}"
    return admin.action(description=f"Mark as {label.lower()}")(action)


@admin.register(Anomaly)
class AnomalyAdmin(ReadOnlyAdmin):
    list_display = [
        "start",
        "end",
        "metric",
        "entity_label",
        "kind",
        "severity",
        "status",
        "explanation",
    ]
    list_filter = ["status", "severity", "kind", "metric"]
    list_select_related = ["gpu__node", "deployment__node", "node"]
    date_hierarchy = "start"
    actions = [_set_status(status, label) for status, label in AnomalyStatus.choices]

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(DetectorModel)
class DetectorModelAdmin(ReadOnlyAdmin):
    list_display = ["detector", "group", "version", "trained_at", "samples"]
    list_filter = ["detector"]
    exclude = ["artifact"]


@admin.register(DetectorTuning)
class DetectorTuningAdmin(admin.ModelAdmin):
    list_display = ["metric", "entity", "sensitivity", "false_positives"]
