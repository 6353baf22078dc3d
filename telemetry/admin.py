from django.contrib import admin

from inferscope.lib.admin import MeasuredAdmin
from telemetry.models import GpuRollup, InferenceRollup


@admin.register(GpuRollup)
class GpuRollupAdmin(MeasuredAdmin):
    list_display = ["bucket", "resolution", "gpu", "samples", "present_s", "energy_j"]
    list_filter = ["resolution", "bucket", "gpu"]
    list_select_related = ["gpu__node"]
    ordering = ["-bucket"]


@admin.register(InferenceRollup)
class InferenceRollupAdmin(MeasuredAdmin):
    list_display = [
        "bucket",
        "resolution",
        "deployment",
        "requests_ok",
        "prompt_tokens",
        "generation_tokens",
    ]
    list_filter = ["resolution", "bucket", "deployment"]
    list_select_related = ["deployment__node"]
    ordering = ["-bucket"]
