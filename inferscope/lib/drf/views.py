"""What every list of the api app shares: its query checked once, pages, and exports.

`?format=csv` or `?format=json` answers with every row the filters leave, streamed
and unpaged (see inferscope.lib.drf.export); without it the list answers one bounded page. The JSON
export is shaped as a page whose `results` hold every row and whose `next` is null.
"""

from collections.abc import Iterator, Mapping
from typing import Any, cast

from django.contrib.auth.decorators import login_not_required
from django.db.models import QuerySet
from django.http import HttpResponseBase
from django.utils.decorators import method_decorator
from rest_framework import generics, serializers
from rest_framework.filters import BaseFilterBackend
from rest_framework.request import Request
from rest_framework.serializers import Serializer

from inferscope.lib.drf.errors import FieldErrors
from inferscope.lib.drf.export import export_response, queryset_rows, serialized_rows
from inferscope.lib.drf.query import ListQuerySerializer
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

    It filters nothing: the view validates the query once and hands it to a selector,
    so the page, the export and the schema read the same fields.
    """

    def filter_queryset(self, request: Request, queryset: QuerySet[Any], view: Any) -> Any:
        return queryset

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        fields = view.query_serializer_class().fields
        return [
            {
                "name": name,
                "in": "query",
                "required": False,
                "description": str(field.help_text or ""),
                "schema": _parameter_schema(field),
                **({"explode": True} if isinstance(field, serializers.ListField) else {}),
            }
            for name, field in fields.items()
        ]


@method_decorator(login_not_required, name="dispatch")
class ExportListView(generics.GenericAPIView):
    """A subclass sets `query_serializer_class`, `export_name`, and `export_columns`
    (output name → ORM path) where its rows are flat columns; without them an export
    runs each row through `serializer_class`."""

    query_serializer_class: type[ListQuerySerializer] = ListQuerySerializer
    export_name = "export"
    export_columns: Mapping[str, str] | None = None
    filter_backends = [QueryParameters]
    # Rows are ordered by these; the time series' cursor orders by its time_field.
    ordering: tuple[str, ...] = ("pk",)

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

    def export_filename(self) -> str:
        query = self.query
        parts = [self.export_name]
        for field in ("start", "end"):
            if query.get(field) is not None:
                parts.append(query[field].strftime("%Y%m%dT%H%MZ"))
        return "-".join(parts)

    def list(self, request: Request, *args: Any, **kwargs: Any) -> HttpResponseBase:
        fmt = self.query.get("format")
        queryset = self.get_queryset()
        if fmt:
            return self.export(queryset.order_by(*self.ordering), fmt)
        page = self.paginate_queryset(queryset.order_by(*self.ordering))
        serializer = self.get_serializer(page, many=True)
        return self.get_paginated_response(serializer.data)

    def export(self, queryset: QuerySet[Any], fmt: str) -> HttpResponseBase:
        if self.export_columns is not None:
            header = list(self.export_columns)
            rows: Any = queryset_rows(queryset, self.export_columns)
        else:
            serializer_class = self.get_serializer_class()
            header = list(cast(Serializer, serializer_class()).fields)
            context = self.get_serializer_context()
            rows = serialized_rows(queryset, serializer_class, header, context)
        envelope = self.export_envelope(queryset) if fmt == "json" else None
        return export_response(header, rows, fmt, self.export_filename(), envelope)

    def export_envelope(self, queryset: QuerySet[Any]) -> dict[str, Any]:
        """A JSON export has the shape of a page, with every row and no next page:
        a client (and the schema) reads both alike."""
        return {"next": None}
