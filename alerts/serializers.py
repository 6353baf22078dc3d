"""Input and output shapes of the alerts API. Secrets are write-only: a channel's
URL comes back masked and its signing key never comes back."""

from typing import Any

from rest_framework import serializers

from alerts.models import Alert, Channel, Delivery, DeliveryAttempt, Rule, Silence
from inferscope.lib.drf.errors import CleanModelSerializer


class ChannelSerializer(CleanModelSerializer):
    url = serializers.CharField(write_only=True, required=False, allow_blank=True, max_length=1000)
    secret = serializers.CharField(
        write_only=True, required=False, allow_blank=True, max_length=200
    )
    masked_url = serializers.CharField(read_only=True)

    class Meta:
        model = Channel
        fields = [
            "id",
            "name",
            "kind",
            "email_to",
            "url",
            "masked_url",
            "secret",
            "enabled",
            "disabled_reason",
            "created_at",
        ]
        read_only_fields = ["disabled_reason", "created_at"]

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        # Left out or blank on an update: keep the stored secret.
        for name in ("url", "secret"):
            if not attrs.get(name) and self.instance is not None:
                attrs.pop(name, None)
        return super().validate(attrs)


class RuleSerializer(CleanModelSerializer):
    channels = serializers.PrimaryKeyRelatedField(
        many=True, queryset=Channel.objects.all(), required=False
    )

    class Meta:
        model = Rule
        fields = [
            "id",
            "name",
            "kind",
            "enabled",
            "metric",
            "comparison",
            "value",
            "condition",
            "min_severity",
            "for_seconds",
            "deployment",
            "node",
            "gpu",
            "labels",
            "repeat_minutes",
            "channels",
            "created_at",
        ]
        read_only_fields = ["created_at"]

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        # clean() reads plain fields; a many-to-many cannot be set on an unsaved copy.
        channels = attrs.pop("channels", None)
        attrs = super().validate(attrs)
        if channels is not None:
            attrs["channels"] = channels
        return attrs


class SilenceSerializer(CleanModelSerializer):
    class Meta:
        model = Silence
        fields = [
            "id",
            "rule",
            "entity",
            "labels",
            "starts_at",
            "ends_at",
            "comment",
            "created_by",
            "created_at",
        ]
        read_only_fields = ["created_by", "created_at"]


class AlertSerializer(serializers.ModelSerializer):
    rule_name = serializers.CharField(source="rule.name", read_only=True)

    class Meta:
        model = Alert
        fields = [
            "id",
            "rule",
            "rule_name",
            "entity",
            "entity_label",
            "state",
            "severity",
            "value",
            "summary",
            "labels",
            "started_at",
            "fired_at",
            "last_notified_at",
            "resolved_at",
        ]


class AttemptSerializer(serializers.ModelSerializer):
    class Meta:
        model = DeliveryAttempt
        fields = ["at", "ok", "duration_ms", "error"]


class DeliverySerializer(serializers.ModelSerializer):
    channel_name = serializers.CharField(source="channel.name", read_only=True)
    # null on a test delivery, which has no event.
    event_kind = serializers.CharField(
        source="event.kind", read_only=True, default=None, allow_null=True
    )
    alert = serializers.IntegerField(
        source="event.alert_id", read_only=True, default=None, allow_null=True
    )
    attempt_log = AttemptSerializer(many=True, read_only=True)

    class Meta:
        model = Delivery
        fields = [
            "id",
            "channel",
            "channel_name",
            "event",
            "event_kind",
            "alert",
            "test",
            "status",
            "attempts",
            "last_error",
            "created_at",
            "sent_at",
            "attempt_log",
        ]
