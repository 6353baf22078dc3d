from rest_framework import serializers

from anomaly.choices import AnomalyKind, AnomalyStatus, Severity
from anomaly.models import Anomaly
from anomaly.series import METRICS
from inferscope.lib.drf.fields import UtcDateTimeField
from inferscope.lib.drf.query import TimeRangeQuerySerializer

MAX_IDS = 100  # ids per entity filter: a longer list is a mistake, not a query
MAX_PAGE_SIZE = 500
DEFAULT_PAGE_SIZE = 50
_MAX_ID = 2**63 - 1  # a bigint: a larger id would be a database error, not a 404


def _ids(help_text: str) -> serializers.ListField:
    return serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=_MAX_ID),
        required=False,
        max_length=MAX_IDS,
        help_text=f"{help_text}; repeat the parameter for several",
    )


class AnomalySerializer(serializers.ModelSerializer):
    entity = serializers.CharField(source="entity_key", read_only=True)
    entity_label = serializers.CharField(read_only=True)
    status_changed_by = serializers.CharField(
        source="status_changed_by.username", read_only=True, allow_null=True
    )

    class Meta:
        model = Anomaly
        fields = [
            "id", "metric", "detector", "kind", "severity", "status", "start", "end", "score",
            "observed", "expected_low", "expected_high", "explanation", "entity", "entity_label",
            "gpu", "node", "deployment", "status_changed_at", "status_changed_by", "created_at",
        ]  # fmt: skip


class AnomalyFilterSerializer(TimeRangeQuerySerializer):
    """The list's query parameters; an empty choice means any."""

    status = serializers.ChoiceField(AnomalyStatus.choices, required=False, allow_blank=True)
    severity = serializers.ChoiceField(Severity.choices, required=False, allow_blank=True)
    kind = serializers.ChoiceField(AnomalyKind.choices, required=False, allow_blank=True)
    metric = serializers.ChoiceField(sorted(METRICS), required=False, allow_blank=True)
    gpu = _ids("anomalies of this GPU")
    node = _ids("anomalies of this node, its GPUs and its deployments")
    deployment = _ids("anomalies of this deployment")
    start = UtcDateTimeField(
        required=False, help_text="ISO 8601; keeps anomalies that end at or after it"
    )
    end = UtcDateTimeField(
        required=False, help_text="ISO 8601; keeps anomalies that start before it"
    )
    page = serializers.IntegerField(required=False, min_value=1, max_value=1_000_000)
    page_size = serializers.IntegerField(
        required=False,
        min_value=1,
        max_value=MAX_PAGE_SIZE,
        help_text=f"{DEFAULT_PAGE_SIZE} unless given",
    )


class AnomalyStatusSerializer(serializers.Serializer):
    status = serializers.ChoiceField(AnomalyStatus.choices)
