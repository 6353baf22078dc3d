from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils import timezone

from collectors.models import Agent, Deployment, Gpu, IngestBatch, Node


class NoDeleteAdmin(admin.ModelAdmin):
    """Fleet rows carry their samples with them: deleting one would erase its history
    (and the confirmation page would list every sample)."""

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(Node)
class NodeAdmin(NoDeleteAdmin):
    list_display = ["name", "hostname", "agent", "simulated", "created_at"]
    list_filter = ["simulated"]
    list_select_related = ["agent"]
    search_fields = ["name", "hostname"]


@admin.register(Gpu)
class GpuAdmin(NoDeleteAdmin):
    list_display = ["uuid", "node", "index", "model_name", "memory_total_bytes"]
    list_filter = ["node__simulated", "model_name"]
    list_select_related = ["node"]
    search_fields = ["uuid", "node__name", "model_name"]


@admin.register(Deployment)
class DeploymentAdmin(NoDeleteAdmin):
    list_display = ["name", "node", "model", "server_kind"]
    list_filter = ["server_kind", "node__simulated"]
    list_select_related = ["node"]
    search_fields = ["name", "model", "node__name"]
    filter_horizontal = ["gpus"]


@admin.register(Agent)
class AgentAdmin(NoDeleteAdmin):
    """Agents are revoked, not deleted: their batch records and nodes stay attributed."""

    list_display = [
        "name",
        "token_prefix",
        "version",
        "last_seen_at",
        "dropped_samples",
        "revoked_at",
    ]
    readonly_fields = [
        "token_prefix",
        "version",
        "created_at",
        "last_seen_at",
        "dropped_samples",
        "revoked_at",
    ]
    fields = ["name", *readonly_fields]
    actions = ["revoke"]

    def save_model(self, request: HttpRequest, obj: Agent, form: Any, change: bool) -> None:
        if not change:
            request._new_agent_token = obj.set_new_token()  # type: ignore[attr-defined]
        super().save_model(request, obj, form, change)

    def response_add(
        self, request: HttpRequest, obj: Agent, post_url_continue: str | None = None
    ) -> HttpResponse:
        token = getattr(request, "_new_agent_token", None)
        if token is None:
            return super().response_add(request, obj, post_url_continue)
        # Rendered in this response only: a flash message would carry the token
        # in the (signed, not encrypted) messages cookie.
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": f"Token for agent {obj.name}",
            "agent": obj,
            "token": token,
        }
        response = TemplateResponse(request, "admin/collectors/agent/token.html", context)
        response["Cache-Control"] = "no-store"
        return response

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
