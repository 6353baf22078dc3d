from django.contrib import admin

from profiling.models import ProfilingCapability, ProfilingJob, ProfilingResult


class ResultInline(admin.TabularInline):
    model = ProfilingResult
    extra = 0
    can_delete = False
    fields = ("index", "label", "batch_size", "prompt_len", "gen_len", "status", "ttft_ms",
              "itl_ms", "decode_tokens_per_s", "usd_per_1m_tokens")  # fmt: skip
    readonly_fields = fields

    def label(self, obj: ProfilingResult) -> str:
        return obj.label

    def has_add_permission(self, request: object, obj: object = None) -> bool:
        return False


@admin.register(ProfilingJob)
class ProfilingJobAdmin(admin.ModelAdmin):
    list_display = ["__str__", "node", "status", "source", "points_done", "points_total",
                    "created_at"]  # fmt: skip
    list_filter = ["status", "source"]
    readonly_fields = ["spec", "device", "model_info", "agent", "created_by", "points_total",
                       "points_done", "started_at", "finished_at", "usd_per_gpu_hour",
                       "price_description", "gpu_model", "error"]  # fmt: skip
    inlines = [ResultInline]


@admin.register(ProfilingCapability)
class ProfilingCapabilityAdmin(admin.ModelAdmin):
    list_display = ["node", "presets", "torch_version", "reported_at"]
    readonly_fields = ["node", "presets", "model_paths", "devices", "torch_version",
                       "max_time_limit_s", "reported_at"]  # fmt: skip
