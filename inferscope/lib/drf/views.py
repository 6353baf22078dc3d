"""The one base of every list: its query checked once, pages, and exports.

A list view (or viewset) puts `ListExportView` before its DRF base. Its query string
goes through `query_serializer_class` once (a 400 naming each parameter at fault),
before anything is read. `?format=csv` or `?format=json` answers with every row the
list keeps, streamed and unpaged (inferscope.lib.drf.export); without it the list
answers one bounded page of its paginator (inferscope.lib.drf.pagination). A JSON
export has the shape of a page whose `results` hold every row and whose `next` is null.

The range `start`–`end` is applied in one of two ways: a view that names `time_field`
keeps the rows whose time is in [start, end); any other reads `self.query` (or
`self.filters()`) in its own `get_queryset`, as a selector that takes the range.
"""

from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, cast

from django.contrib.auth.decorators import login_not_required
from django.db.models import DateField, DateTimeField, Model, QuerySet
from django.http import HttpResponseBase
from django.utils.decorators import method_decorator
from rest_framework import generics, serializers
from rest_framework.filters import BaseFilterBackend
from rest_framework.request import Request
from rest_framework.response import Response

from inferscope.lib.drf.errors import FieldErrors
from inferscope.lib.drf.export import export_response, queryset_rows, serialized_rows
from inferscope.lib.drf.pagination import ListPagination
from inferscope.lib.drf.query import TimeRangeQuerySerializer
from inferscope.lib.filters import Filters


def _messages(detail: Any) -> Iterator[str]:
    # A list filter's errors come keyed by position; the client sent one parameter.
    if isinstance(detail, dict):
        detail = list(detail.values())
    if isinstance(detail, list):
        for item in detail:
            yield from _messages(item)
    else:
        yield str(detail)


def validated_query(
    serializer_class: type[serializers.Serializer],
    request: Request,
    context: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A request's query string through `serializer_class`; a 400 naming each parameter
    at fault (once, whatever position a repeated parameter's error came from)."""
    serializer = serializer_class(data=request.query_params, context=context or {})
    if not serializer.is_valid():
        raise FieldErrors(
            [
                {"field": "" if name == "non_field_errors" else name, "message": text}
                for name, detail in serializer.errors.items()
                for text in _messages(detail)
            ],
            "Invalid request.",
        )
    return dict(serializer.validated_data)


def _parameter_schema(field: serializers.Field) -> dict[str, Any]:
    if isinstance(field, serializers.ListField):
        return {"type": "array", "items": _parameter_schema(field.child)}
    if isinstance(field, serializers.ChoiceField):
        return {"type": "string", "enum": list(field.choices)}
    if isinstance(field, serializers.DateTimeField):
        return {"type": "string", "format": "date-time"}
    return {"type": "string"}


class QueryParameters(BaseFilterBackend):
    """Describes a list's query parameters (its query serializer) to schema generators.

    It filters nothing: the view validates the query once and applies it, so the page,
    the export and the schema read the same fields.
    """

    def filter_queryset(self, request: Request, queryset: QuerySet[Any], view: Any) -> Any:
        return queryset

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        serializer = view.query_serializer_class()
        refused = getattr(serializer, "refused", ())
        parameters = []
        for name, field in serializer.fields.items():
            if name in refused:
                continue
            description = str(field.help_text or "")
            if name in ("start", "end") and view.time_field is not None:
                description = f"{description}; on `{view.time_field}`"
            parameters.append(
                {
                    "name": name,
                    "in": "query",
                    "required": False,
                    "description": description,
                    "schema": _parameter_schema(field),
                    **({"explode": True} if isinstance(field, serializers.ListField) else {}),
                }
            )
        return parameters


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


@method_decorator(login_not_required, name="dispatch")
class ListExportView(generics.GenericAPIView):
    """A subclass sets `export_name` (the download's file stem) and, as its rows need:
    `query_serializer_class` (start, end and format unless it says more), `time_field`
    (the ORM path of the time `start`/`end` bound, where this base applies the range),
    `ordering` (the rows' order; a cursor paginator's is (time, "pk")) and
    `export_columns` (output name → ORM path, for flat rows; without them an export
    runs each row through the list's serializer). Only the list reads `format`, and
    only the list filters by `time_field`; other actions ignore both."""

    query_serializer_class: type[serializers.Serializer] = TimeRangeQuerySerializer
    time_field: str | None = None
    ordering: tuple[str, ...] = ()
    export_name = "export"
    export_columns: Mapping[str, str] | None = None
    filter_backends = [QueryParameters]

    def query_context(self) -> dict[str, Any]:
        return {}

    @property
    def query(self) -> dict[str, Any]:
        """The validated query parameters (a 400 with field errors otherwise)."""
        cached: dict[str, Any] | None = getattr(self, "_query", None)
        if cached is None:
            cached = self._query = validated_query(
                self.query_serializer_class, self.request, self.query_context()
            )
        return cached

    def filters(self) -> Filters:
        query = self.query
        return Filters(
            start=query.get("start"),
            end=query.get("end"),
            nodes=query.get("node", ()),
            gpus=query.get("gpu", ()),
            deployments=query.get("deployment", ()),
            labels=query.get("label", ()),
        )

    def filter_time_range(self, queryset: QuerySet[Any]) -> QuerySet[Any]:
        field, start, end = self.time_field, self.query.get("start"), self.query.get("end")
        if field is None:
            return queryset
        bound: Any = _first_day_from if _is_date_only(queryset.model, field) else (lambda t: t)
        if start is not None:
            queryset = queryset.filter(**{f"{field}__gte": bound(start)})
        if end is not None:
            queryset = queryset.filter(**{f"{field}__lt": bound(end)})
        return queryset

    def list_rows(self) -> QuerySet[Any] | Sequence[Any]:
        """What the list pages and exports: the queryset, filtered and ordered; a view
        of computed rows returns a list of them instead."""
        queryset = self.filter_time_range(self.filter_queryset(self.get_queryset()))
        return queryset.order_by(*self.ordering) if self.ordering else queryset

    def export_filename(self) -> str:
        parts = [self.export_name]
        for field in ("start", "end"):
            value = self.query.get(field)
            if value is not None:
                parts.append(value.strftime("%Y%m%dT%H%MZ"))
        return "-".join(parts)

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Any:
        # An export is a StreamingHttpResponse, where DRF's list actions say Response:
        # DRF hands either back to Django.
        fmt = self.query.get("format")
        rows = self.list_rows()
        if fmt:
            return self.export(rows, fmt)
        # DRF's stubs say a queryset; a list of computed rows pages alike.
        page = self.paginate_queryset(cast(QuerySet[Any], rows))
        if page is None:
            return Response(self.get_serializer(rows, many=True).data)
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    def export(self, rows: QuerySet[Any] | Sequence[Any], fmt: str) -> HttpResponseBase:
        if self.export_columns is not None:
            header = list(self.export_columns)
            cells: Any = queryset_rows(cast(QuerySet[Any], rows), self.export_columns)
        else:
            serializer_class = self.get_serializer_class()
            # The page's keys: write-only fields (a channel's URL and secret) never leave.
            fields = cast(serializers.Serializer, serializer_class()).fields
            header = [name for name, field in fields.items() if not field.write_only]
            context = self.get_serializer_context()
            cells = serialized_rows(rows, serializer_class, header, context)
        envelope = None
        if fmt == "json" and isinstance(self.paginator, ListPagination):
            envelope = self.paginator.export_envelope(rows, self)
        return export_response(header, cells, fmt, self.export_filename(), envelope)
