"""The query every list of the api app takes, checked before anything is read:
a time range, entity and label filters, a granularity, and the export format."""

from datetime import UTC, datetime, timedelta
from typing import Any

from rest_framework import serializers

from inferscope.lib.drf.export import FORMATS
from inferscope.lib.drf.fields import UtcDateTimeField
from inferscope.lib.filters import LABEL_HINT, split_label
from inferscope.lib.timerange import DAY, HOUR, MINUTE

# Bucket seconds, as the rollups' resolutions.
GRANULARITIES = {"minute": MINUTE, "hour": HOUR, "day": DAY}
# The longest range one request may ask for: a month of raw samples or minutes is
# about 260k rows per GPU; hours and days stay small for a year and more.
MAX_DAYS_FINE = 31
MAX_DAYS = 400
# The range a series gets when none is given: the last of these, ending now.
DEFAULT_WINDOW = {
    "raw": timedelta(hours=1),
    "minute": timedelta(days=1),
    "hour": timedelta(days=7),
    "day": timedelta(days=90),
}
EARLIEST_YEAR, LATEST_YEAR = 2000, 2100
MAX_LABELS = 10
MAX_REFS = 100


def _refs(help_text: str) -> serializers.ListField:
    return serializers.ListField(
        child=serializers.CharField(max_length=200),
        required=False,
        max_length=MAX_REFS,
        help_text=f"{help_text}; repeat it for any of several",
    )


class LabelField(serializers.CharField):
    """`key:value` or `key=value` (inferscope.lib.filters.split_label)."""

    def to_internal_value(self, data: Any) -> tuple[str, str]:  # type: ignore[override]
        label = split_label(super().to_internal_value(data))
        if label is None:
            raise serializers.ValidationError(LABEL_HINT)
        return label


class ListQuerySerializer(serializers.Serializer):
    """Filters every list takes: a time range, entities, labels, and the export format."""

    start = UtcDateTimeField(required=False, help_text="inclusive, ISO 8601 (UTC if no offset)")
    end = UtcDateTimeField(required=False, help_text="exclusive, ISO 8601 (UTC if no offset)")
    node = _refs("a node id or name")
    gpu = _refs("a GPU id or uuid")
    deployment = _refs("a deployment id or name")
    # A field named like Field.label: the serializer's metaclass takes it off the class.
    label = serializers.ListField(  # type: ignore[assignment]
        child=LabelField(max_length=701),
        required=False,
        max_length=MAX_LABELS,
        help_text="key:value on a node's or deployment's labels; repeat to require several",
    )
    format = serializers.ChoiceField(
        choices=FORMATS,
        required=False,
        help_text="csv or json: stream every row as a download, without pages",
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        start, end = attrs.get("start"), attrs.get("end")
        for field, value in (("start", start), ("end", end)):
            if value is not None and not EARLIEST_YEAR <= value.year < LATEST_YEAR:
                raise serializers.ValidationError(
                    {field: f"Give a time between {EARLIEST_YEAR} and {LATEST_YEAR}."}
                )
        if start is not None and end is not None and end <= start:
            raise serializers.ValidationError({"end": "The end must be after the start."})
        return attrs


class SeriesQuerySerializer(ListQuerySerializer):
    """A series always reads a bounded range: a missing end is the start plus the
    granularity's default window (or now), a missing start the end less that window,
    and a range past the granularity's limit is refused. The view gives the
    granularity of what it reads in the context: raw, minute, hour or day."""

    def granularity_of(self, attrs: dict[str, Any]) -> str:
        return str(self.context.get("granularity", "raw"))

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        attrs = super().validate(attrs)
        kind = self.granularity_of(attrs)
        window = DEFAULT_WINDOW[kind]
        now: datetime = self.context.get("now") or datetime.now(UTC)
        start, end = attrs.get("start"), attrs.get("end")
        if end is None:
            end = start + window if start is not None else now.replace(microsecond=0)
        if start is None:
            start = end - window
        longest = timedelta(days=MAX_DAYS_FINE if kind in ("raw", "minute") else MAX_DAYS)
        if end - start > longest:
            what = "raw samples" if kind == "raw" else f"{kind} data"
            raise serializers.ValidationError(
                {"start": f"A range of {what} can be at most {longest.days} days long."}
            )
        attrs.update(start=start, end=end, granularity=kind)
        return attrs


class RollupQuerySerializer(SeriesQuerySerializer):
    granularity = serializers.ChoiceField(
        choices=list(GRANULARITIES), required=False, help_text="minute, hour (default) or day"
    )

    def granularity_of(self, attrs: dict[str, Any]) -> str:
        return str(attrs.get("granularity") or "hour")


class CostQuerySerializer(SeriesQuerySerializer):
    idle = serializers.ChoiceField(
        choices=["true", "false"],
        required=False,
        help_text="true: only idle GPU time; false: only deployments' shares",
    )

    def granularity_of(self, attrs: dict[str, Any]) -> str:
        return "hour"  # one record per GPU-hour
