"""The query every list takes, checked before anything is read: a time range, entity
and label filters, a granularity, and the export format.

The range is checked in one place (`check_range`), so every list words a bad range
alike: a time outside 2000–2100 names its parameter, an end not after the start names
`end`, and a range longer than the list allows names `start`.
"""

from datetime import UTC, datetime, timedelta
from typing import Any

from rest_framework import serializers

from inferscope.lib.drf.export import FORMATS
from inferscope.lib.drf.fields import UtcDateTimeField
from inferscope.lib.filters import LABEL_HINT, split_label
from inferscope.lib.timerange import DAY, EARLIEST_YEAR, HOUR, LATEST_YEAR, MAX_SPAN, MINUTE

# Bucket seconds, as the rollups' resolutions.
GRANULARITIES = {"minute": MINUTE, "hour": HOUR, "day": DAY}
# The longest range a series may ask for: a month of raw samples or minutes is about
# 260k rows per GPU; hours and days stay small for a year and more.
MAX_SPAN_FINE = timedelta(days=31)
# The range a series gets when none is given: the last of these, ending now.
DEFAULT_WINDOW = {
    "raw": timedelta(hours=1),
    "minute": timedelta(days=1),
    "hour": timedelta(days=7),
    "day": timedelta(days=90),
}
MAX_LABELS = 10
MAX_REFS = 100


def check_range(
    start: datetime | None, end: datetime | None, longest: timedelta | None = None
) -> None:
    """Raises the field error of the first thing wrong with [start, end): a time outside
    the years the API takes, an end not after the start, a range over `longest`."""
    for field, value in (("start", start), ("end", end)):
        if value is not None and not EARLIEST_YEAR <= value.year < LATEST_YEAR:
            raise serializers.ValidationError(
                {field: f"Give a time between {EARLIEST_YEAR} and {LATEST_YEAR}."}
            )
    if start is None or end is None:
        return
    if end <= start:
        raise serializers.ValidationError({"end": "The end must be after the start."})
    if longest is not None and end - start > longest:
        raise serializers.ValidationError(
            {"start": f"A range can be at most {longest.days} days long."}
        )


class TimeRangeQuerySerializer(serializers.Serializer):
    """`start`, `end` and `format`: what every list takes."""

    start = UtcDateTimeField(required=False, help_text="inclusive, ISO 8601 (UTC if no offset)")
    end = UtcDateTimeField(required=False, help_text="exclusive, ISO 8601 (UTC if no offset)")
    format = serializers.ChoiceField(
        choices=FORMATS,
        required=False,
        help_text="csv or json: stream every row as a download, without pages",
    )

    def longest(self, attrs: dict[str, Any]) -> timedelta | None:
        """The longest range the list reads; None: no limit."""
        return None

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        check_range(attrs.get("start"), attrs.get("end"), self.longest(attrs))
        return attrs


class UntimedQuerySerializer(TimeRangeQuerySerializer):
    """For rows with no time of their own: a range is refused, not ignored."""

    # Left out of the schema, as the list takes no such parameter.
    refused = ("start", "end")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        attrs = super().validate(attrs)
        given = [name for name in self.refused if attrs.get(name) is not None]
        if given:
            raise serializers.ValidationError(
                {name: "This list has no time to filter by." for name in given}
            )
        return attrs


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


class ListQuerySerializer(TimeRangeQuerySerializer):
    """A time range, entities, labels, and the export format."""

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


class BoundedQuerySerializer(ListQuerySerializer):
    """A list that always reads a bounded range: a missing end is the start plus the
    default window (or now), a missing start the end less that window; a range longer
    than `longest` (400 days unless a subclass says less) is refused."""

    def window(self, attrs: dict[str, Any]) -> timedelta:
        raise NotImplementedError

    def longest(self, attrs: dict[str, Any]) -> timedelta | None:
        return MAX_SPAN

    def now(self) -> datetime:
        now: datetime = self.context.get("now") or datetime.now(UTC)
        return now

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        # A default window is never longer than the limit: only a given range is checked.
        attrs = super().validate(attrs)
        start, end = attrs.get("start"), attrs.get("end")
        window = self.window(attrs)
        if end is None:
            end = start + window if start is not None else self.now()
        if start is None:
            start = end - window
        attrs.update(start=start, end=end)
        return attrs


class SeriesQuerySerializer(BoundedQuerySerializer):
    """A series' range, by the granularity of what it reads: raw, minute, hour or day.
    The view gives it in the context, or the query as `granularity`."""

    def granularity_of(self, attrs: dict[str, Any]) -> str:
        return str(self.context.get("granularity", "raw"))

    def window(self, attrs: dict[str, Any]) -> timedelta:
        return DEFAULT_WINDOW[self.granularity_of(attrs)]

    def longest(self, attrs: dict[str, Any]) -> timedelta | None:
        return MAX_SPAN_FINE if self.granularity_of(attrs) in ("raw", "minute") else MAX_SPAN

    def now(self) -> datetime:
        return super().now().replace(microsecond=0)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        attrs = super().validate(attrs)
        attrs["granularity"] = self.granularity_of(attrs)
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
