from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from alerts.models import Alert, AlertEvent, Channel, Delivery, DeliveryAttempt, Rule, Silence
from alerts.services import channel_send_test
from inferscope.lib.admin import ReadOnlyAdmin


class ChannelForm(forms.ModelForm):
    """The URL and signing key are secrets: never rendered back, blank keeps them."""

    url = forms.CharField(
        required=False,
        max_length=1000,
        widget=forms.PasswordInput(render_value=False),
        help_text="Slack or webhook URL. Shown masked once saved; leave blank to keep it.",
    )
    secret = forms.CharField(
        required=False,
        max_length=200,
        widget=forms.PasswordInput(render_value=False),
        help_text="Webhook signing key (16+ characters). Leave blank to keep it.",
    )

    class Meta:
        model = Channel
        fields = ["name", "kind", "email_to", "url", "secret", "enabled"]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        for name in ("url", "secret"):
            if not data.get(name) and self.instance.pk:
                data[name] = getattr(self.instance, name)
        return data


@admin.register(Channel)
class ChannelAdmin(admin.ModelAdmin):
    form = ChannelForm
    list_display = ["name", "kind", "target", "enabled", "disabled_reason"]
    list_filter = ["kind", "enabled"]
    actions = ["send_test"]

    @admin.display(description="sends to")
    def target(self, channel: Channel) -> str:
        return ", ".join(channel.recipients) if channel.kind == "email" else channel.masked_url

    @admin.action(description="Send a test message")
    def send_test(self, request: HttpRequest, queryset: QuerySet[Channel]) -> None:
        for channel in queryset:
            delivery = channel_send_test(channel)
            if delivery.status == "sent":
                messages.success(request, f"Test message sent to {channel.name}.")
            else:
                messages.error(request, f"{channel.name}: {delivery.last_error}")


@admin.register(Rule)
class RuleAdmin(admin.ModelAdmin):
    list_display = ["name", "kind", "metric", "comparison", "value", "for_seconds", "enabled"]
    list_filter = ["kind", "enabled"]
    filter_horizontal = ["channels"]
    raw_id_fields = ["deployment", "node", "gpu"]


@admin.register(Silence)
class SilenceAdmin(admin.ModelAdmin):
    list_display = ["starts_at", "ends_at", "rule", "entity", "labels", "comment", "created_by"]
    readonly_fields = ["created_by"]

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)


@admin.register(Alert)
class AlertAdmin(ReadOnlyAdmin):
    list_display = ["started_at", "rule", "entity_label", "state", "severity", "summary"]
    list_filter = ["state", "severity", "rule"]
    list_select_related = ["rule"]


@admin.register(AlertEvent)
class AlertEventAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "kind", "alert", "summary", "processed_at"]
    list_filter = ["kind"]
    list_select_related = ["alert__rule"]


class AttemptInline(admin.TabularInline):
    model = DeliveryAttempt
    fields = ["at", "ok", "duration_ms", "error"]
    readonly_fields = ["at", "ok", "duration_ms", "error"]
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(Delivery)
class DeliveryAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "channel", "event", "test", "status", "attempts", "last_error"]
    list_filter = ["status", "channel"]
    list_select_related = ["channel", "event__alert__rule"]
    inlines = [AttemptInline]
