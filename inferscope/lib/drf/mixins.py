"""A time range and exports for any app's list: `start`/`end` and `?format=csv|json`.

A list view or viewset adopts TimeRangeExportMixin (before the DRF base) and names the
model's time in `time_field`. Its list then keeps the rows whose time is in
[start, end) (ISO 8601; a time without an offset is UTC) and, with `?format=csv` or
`?format=json`, streams every row it keeps through the list's serializer, unpaged
(inferscope.lib.drf.export). A bad time, an end not after the start or an unknown format is a 400
naming the parameter. Only the list reads these parameters; other actions ignore them.
"""

from datetime import UTC, date, datetime, time, timedelta
from typing import Any, cast

from django.db.models import DateField, DateTimeField, Model, QuerySet
from rest_framework import generics, serializers
from rest_framework.filters import BaseFilterBackend
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import Serializer

from inferscope.lib.drf.errors import FieldErrors
from inferscope.lib.drf.export import FORMATS, export_response, serialized_rows
from inferscope.lib.drf.fields import UtcDateTimeField
from inferscope.lib.drf.query import EARLIEST_YEAR, LATEST_YEAR


class TimeRangeExportQuerySerializer(serializers.Serializer):
    start = UtcDateTimeField(required=False, help_text="inclusive, ISO 8601 (UTC if no offset)")
    end = UtcDateTimeField(required=False, help_text="exclusive, ISO 8601 (UTC if no offset)")
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


def _first_day_from(moment: datetime) -> date:
    """The first day whose UTC midnight is at or after `moment`: a date column is a
    day's start, so [start, end) keeps the days that start in it."""
    moment = moment.astimezone(UTC)
    day = moment.date()
    return day if datetime.combine(day, time(), UTC) >= moment else day + timedelta(days=1)


def _is_date_only(model: type[Model], path: str) -> bool:
    *related, name = path.split("__")
    for part in related:
        model = cast(type[Model], model._meta.get_field(part).related_model)
    field = model._meta.get_field(name)
    return isinstance(field, DateField) and not isinstance(field, DateTimeField)


class TimeRangeExportParameters(BaseFilterBackend):
    """Describes `start`, `end` and `format` to schema generators; the mixin filters."""

    def filter_queryset(self, request: Request, queryset: QuerySet[Any], view: Any) -> Any:
        return queryset

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        fields = TimeRangeExportQuerySerializer().fields
        names = ["format"] if getattr(view, "time_field", None) is None else list(fields)
        if getattr(view, "time_parameters_described", False):
            names = ["format"]  # the view's own parameters already say start and end
        parameters = []
        for name in names:
            field = fields[name]
            schema: dict[str, Any] = {"type": "string"}
            if isinstance(field, serializers.ChoiceField):
                schema["enum"] = list(field.choices)
            elif isinstance(field, serializers.DateTimeField):
                schema["format"] = "date-time"
            description = str(field.help_text or "")
            if name in ("start", "end"):
                description = f"{description}; on `{view.time_field}`"
            parameters.append(
                {
                    "name": name,
                    "in": "query",
                    "required": False,
                    "description": description,
                    "schema": schema,
                }
            )
        return parameters


class TimeRangeExportMixin(generics.GenericAPIView):
    """For a GenericAPIView (or viewset) with a `list`: set `time_field` (the ORM path
    of the time that `start`/`end` bound; None where the rows have no time, and then
    `start`/`end` are refused) and `export_name` (the download's file stem)."""

    time_field: str | None = None
    export_name = "export"
    # True where the view's own query serializer already describes start and end.
    time_parameters_described = False
    filter_backends = [TimeRangeExportParameters]

    @property
    def time_query(self) -> dict[str, Any]:
        """The validated `start`, `end` and `format` (a 400 naming the field otherwise)."""
        cached: dict[str, Any] | None = getattr(self, "_time_query", None)
        if cached is None:
            serializer = TimeRangeExportQuerySerializer(data=self.request.query_params)
            if not serializer.is_valid():
                raise FieldErrors(
                    [
                        {"field": name, "message": str(text)}
                        for name, texts in serializer.errors.items()
                        for text in texts
                    ],
                    "Invalid request.",
                )
            cached = self._time_query = dict(serializer.validated_data)
        return cached

    def filter_time_range(
        self, queryset: QuerySet[Any], start: datetime | None, end: datetime | None
    ) -> QuerySet[Any]:
        field = self.time_field
        if start is None and end is None:
            return queryset
        if field is None:
            name = "start" if start is not None else "end"
            raise FieldErrors(
                [{"field": name, "message": "This list has no time to filter by."}],
                "Invalid request.",
            )
        bound: Any = _first_day_from if _is_date_only(queryset.model, field) else (lambda t: t)
        if start is not None:
            queryset = queryset.filter(**{f"{field}__gte": bound(start)})
        if end is not None:
            queryset = queryset.filter(**{f"{field}__lt": bound(end)})
        return queryset

    def export_filename(self) -> str:
        parts = [self.export_name]
        for field in ("start", "end"):
            value = self.time_query.get(field)
            if value is not None:
                parts.append(value.strftime("%Y%m%dT%H%MZ"))
        return "-".join(parts)

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        # An export is a StreamingHttpResponse: typed as a Response for the list actions
        # of DRF's mixins, which DRF hands back to Django either way.
        view: Any = self
        query = self.time_query
        queryset = view.filter_queryset(view.get_queryset())
        queryset = self.filter_time_range(queryset, query.get("start"), query.get("end"))
        fmt = query.get("format")
        if fmt:
            serializer_class = view.get_serializer_class()
            # The page's keys: write-only fields (a channel's URL and secret) never leave.
            fields = cast(Serializer, serializer_class()).fields
            header = [name for name, field in fields.items() if not field.write_only]
            context = view.get_serializer_context()
            rows = serialized_rows(queryset, serializer_class, header, context)
            envelope = (
                {"count": queryset.count(), "next": None, "previous": None}
                if fmt == "json"
                else None
            )
            return cast(
                Response, export_response(header, rows, fmt, self.export_filename(), envelope)
            )
        page = view.paginate_queryset(queryset)
        if page is None:
            return Response(view.get_serializer(queryset, many=True).data)
        return cast(
            Response, view.get_paginated_response(view.get_serializer(page, many=True).data)
        )
