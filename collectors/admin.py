from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone

from collectors.models import Agent, Deployment, Gpu, IngestBatch, Node


@admin.register(Node)
class NodeAdmin(admin.ModelAdmin):
    list_display = ["name", "hostname", "simulated", "created_at"]
    list_filter = ["simulated"]
    search_fields = ["name", "hostname"]


@admin.register(Gpu)
class GpuAdmin(admin.ModelAdmin):
    list_display = ["uuid", "node", "index", "model_name", "memory_total_bytes"]
    list_filter = ["node__simulated", "model_name"]
    list_select_related = ["node"]
    search_fields = ["uuid", "node__name", "model_name"]


@admin.register(Deployment)
class DeploymentAdmin(admin.ModelAdmin):
    list_display = ["name", "node", "model", "server_kind"]
    list_filter = ["server_kind", "node__simulated"]
    list_select_related = ["node"]
    search_fields = ["name", "model", "node__name"]
    filter_horizontal = ["gpus"]


@admin.register(Agent)
class AgentAdmin(admin.ModelAdmin):
    list_display = ["name", "node", "token_prefix", "version", "last_seen_at", "revoked_at"]
    list_select_related = ["node"]
    readonly_fields = ["token_prefix", "version", "created_at", "last_seen_at", "revoked_at"]
    fields = ["name", "node", *readonly_fields]
    actions = ["revoke"]

    def save_model(self, request: HttpRequest, obj: Agent, form: object, change: bool) -> None:
        token = None if change else obj.set_new_token()
        super().save_model(request, obj, form, change)
        if token:
            messages.warning(
                request,
                f"Token for agent {obj.name!r}: {token} — copy it now; it is not shown again.",
            )

    @admin.action(description="Revoke the selected agents' tokens")
    def revoke(self, request: HttpRequest, queryset: QuerySet[Agent]) -> None:
        count = queryset.filter(revoked_at__isnull=True).update(revoked_at=timezone.now())
        self.message_user(request, f"Revoked {count} agent token(s).")


@admin.register(IngestBatch)
class IngestBatchAdmin(admin.ModelAdmin):
    list_display = ["batch_id", "agent", "received_at", "gpu_samples", "inference_samples"]
    list_select_related = ["agent"]
    search_fields = ["batch_id"]
    show_full_result_count = False

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False
