from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from recommendations.models import Recommendation
from recommendations.selectors import measured_saving

ACTIONS = ("dismiss", "snooze", "done", "reopen")


class RecommendationSerializer(serializers.ModelSerializer):
    # A string, as every $ figure of the API: a float would round cents away.
    monthly_saving_usd = serializers.DecimalField(max_digits=14, decimal_places=2)

    class Meta:
        model = Recommendation
        fields = [
            "id", "rule", "title", "action", "gpu", "deployment", "node", "monthly_saving_usd",
            "arithmetic", "confidence", "status", "snoozed_until", "first_seen_at",
            "last_seen_at", "closed_at", "done_at",
        ]  # fmt: skip


class MeasuredSavingSerializer(serializers.Serializer):
    """What the change saved, measured after it was marked done (documentation only)."""

    before_usd_per_day = serializers.DecimalField(max_digits=14, decimal_places=2)
    after_usd_per_day = serializers.DecimalField(max_digits=14, decimal_places=2)
    days_after = serializers.IntegerField()
    monthly_usd = serializers.DecimalField(max_digits=14, decimal_places=2)


class RecomputeAnswerSerializer(serializers.Serializer):
    found = serializers.IntegerField()
    opened = serializers.IntegerField()
    closed = serializers.IntegerField()


class RecommendationDetailSerializer(RecommendationSerializer):
    measured_saving = serializers.SerializerMethodField()

    class Meta(RecommendationSerializer.Meta):
        fields = [*RecommendationSerializer.Meta.fields, "evidence", "measured_saving"]

    @extend_schema_field(MeasuredSavingSerializer(allow_null=True))
    def get_measured_saving(self, rec: Recommendation) -> dict[str, Any] | None:
        measured = measured_saving(rec)
        if measured is None:
            return None
        return {
            "before_usd_per_day": str(measured.before_usd_per_day),
            "after_usd_per_day": str(measured.after_usd_per_day),
            "days_after": measured.days_after,
            "monthly_usd": str(measured.monthly_usd),
        }


class StatusChangeSerializer(serializers.Serializer):
    action = serializers.ChoiceField(ACTIONS)
    until = serializers.DateTimeField(required=False, help_text="for snooze: when it reopens")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs["action"] == "snooze" and "until" not in attrs:
            raise serializers.ValidationError({"until": "Give the time to snooze until."})
        return attrs
