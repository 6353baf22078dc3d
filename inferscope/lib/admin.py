"""Admin pieces every app shares."""

from django.contrib import admin
from django.http import HttpRequest


class ReadOnlyAdmin(admin.ModelAdmin):
    """Rows the jobs write (samples, rollups, anomalies, alerts): people read them,
    never add or edit them by hand."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


class MeasuredAdmin(ReadOnlyAdmin):
    """Measured and computed rows: editing or deleting one would make the figures lie
    about the samples, so they are only viewed (a price change recomputes them)."""

    show_full_result_count = False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False
