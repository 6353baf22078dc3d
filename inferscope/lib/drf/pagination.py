"""Bounded pages, one family: numbered pages for lists, a keyset cursor for time series.

Both read `page_size` alike: a value that is not a positive whole number of at most
nine digits means the default, and one above the maximum is cut to the maximum, not
refused, so a client that asks for "everything" still gets a valid page and a `next`
link. A `page` or `cursor` that names no page is a 400 naming it, as any other bad
parameter. Each also says the shape of its page for a JSON export of every row
(`export_envelope`), so a client reads an export as it reads a page.
"""

import base64
import binascii
import re
from collections import OrderedDict
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from django.db.models import Model, Q, QuerySet
from rest_framework.exceptions import NotFound
from rest_framework.pagination import BasePagination, PageNumberPagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.utils.urls import replace_query_param

from inferscope.lib.drf.errors import FieldErrors
from inferscope.lib.drf.export import iso_utc
from inferscope.lib.timerange import EARLIEST_YEAR, LATEST_YEAR

Rows = QuerySet[Any] | Sequence[Any]


def _bad(field: str, message: str) -> FieldErrors:
    return FieldErrors([{"field": field, "message": message}], "Invalid request.")


class ListPagination(BasePagination):
    """What every paginator of the API shares: the page size and the export's shape."""

    # Typed as DRF's PageNumberPagination types them, None meaning "not paged".
    page_size: int | None = 100
    max_page_size: int | None = 500
    page_size_query_param: str | None = "page_size"

    def get_page_size(self, request: Request) -> int:
        assert self.page_size and self.max_page_size and self.page_size_query_param
        value = request.query_params.get(self.page_size_query_param, "")
        if not re.fullmatch(r"[0-9]{1,9}", value) or int(value) == 0:
            return self.page_size
        return min(int(value), self.max_page_size)

    def export_envelope(self, rows: Rows, view: Any) -> dict[str, Any]:
        """The keys of a page around every row: the JSON export's shape."""
        raise NotImplementedError


class PagePagination(ListPagination, PageNumberPagination):
    """`?page=2&page_size=50`; 100 rows a page unless asked, 500 at most. With
    `windowed`, a page also says the period it covers, the view's `start` to `end`."""

    windowed = False

    def __init__(self) -> None:
        self.window: tuple[datetime, datetime] | None = None

    def paginate_queryset(self, queryset: Any, request: Request, view: Any = None) -> list[Any]:
        if self.windowed:
            self.window = (view.query["start"], view.query["end"])
        try:
            return list(super().paginate_queryset(queryset, request, view) or [])
        except NotFound:
            raise _bad("page", "There is no such page.") from None

    def _window(self) -> list[tuple[str, str]]:
        if self.window is None:
            return []
        start, end = (iso_utc(moment) for moment in self.window)
        return [("start", start), ("end", end)]

    def get_paginated_response(self, data: Any) -> Response:
        response = super().get_paginated_response(data)
        response.data = OrderedDict([*self._window(), *response.data.items()])
        return response

    def get_paginated_response_schema(self, schema: dict[str, Any]) -> dict[str, Any]:
        page = super().get_paginated_response_schema(schema)
        if self.windowed:
            moment = {"type": "string", "format": "date-time"}
            page["properties"] = {"start": moment, "end": moment, **page["properties"]}
            page["required"] = ["start", "end", *page.get("required", [])]
        return page

    def export_envelope(self, rows: Rows, view: Any) -> dict[str, Any]:
        if self.windowed:
            self.window = (view.query["start"], view.query["end"])
        count = rows.count() if isinstance(rows, QuerySet) else len(rows)
        return {**dict(self._window()), "count": count, "next": None, "previous": None}


class WindowPagePagination(PagePagination):
    """Pages of figures over a period (whole UTC hours): each says its `start` and `end`."""

    windowed = True


class TimeCursorPagination(ListPagination):
    """`?cursor=…&page_size=…` over rows ordered by the view's `ordering`, (time, id),
    oldest first.

    DRF's CursorPagination keeps its place by the time column plus an offset, which it
    caps at 1,000 rows: a fleet of 1,000 GPUs writes more rows than that at one instant,
    and a page would repeat. The cursor here holds the last row's (time, id) instead,
    so each page is one index range scan however deep the client reads.
    """

    page_size = 500
    max_page_size = 5000
    cursor_query_param = "cursor"
    _CURSOR = re.compile(r"(?P<ts>[0-9T:.+\-]{19,40})\|(?P<pk>[0-9]{1,18})")

    def __init__(self) -> None:
        self.request: Request | None = None
        self.next_cursor: str | None = None

    def paginate_queryset(
        self, queryset: QuerySet[Any], request: Request, view: Any = None
    ) -> list[Any]:
        field, tiebreak = view.ordering
        assert tiebreak == "pk", "a cursor orders by (time, pk)"
        self.request = request
        size = self.get_page_size(request)
        rows = queryset.order_by(field, "pk")
        after = self.decode_cursor(request)
        if after is not None:
            ts, pk = after
            # (time, id) > (ts, pk), with the time bound on its own so an index on the
            # time column serves it.
            rows = rows.filter(**{f"{field}__gte": ts}).filter(
                Q(**{f"{field}__gt": ts}) | Q(pk__gt=pk)
            )
        page: list[Model] = list(rows[: size + 1])
        self.next_cursor = None
        if len(page) > size:
            page = page[:size]
            last = page[-1]
            self.next_cursor = self.encode_cursor(getattr(last, field), last.pk)
        return page

    @staticmethod
    def encode_cursor(ts: datetime, pk: int) -> str:
        raw = f"{ts.astimezone(UTC).isoformat()}|{pk}".encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    def decode_cursor(self, request: Request) -> tuple[datetime, int] | None:
        value = request.query_params.get(self.cursor_query_param, "")
        if not value:
            return None
        try:
            raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)).decode()
            match = self._CURSOR.fullmatch(raw)
            if match is None:
                raise ValueError(raw)
            ts = datetime.fromisoformat(match["ts"])
            if ts.tzinfo is None:
                ts = ts.replace(tzinfo=UTC)
            # An offset can carry year 1 or 9999 out of range (OverflowError); no
            # cursor this API gives out lies outside the years a query accepts.
            ts = ts.astimezone(UTC)
            if not EARLIEST_YEAR <= ts.year < LATEST_YEAR:
                raise ValueError(raw)
        except (ValueError, OverflowError, binascii.Error, UnicodeDecodeError):
            raise _bad("cursor", "Not a cursor this API gave out.") from None
        return ts, int(match["pk"])

    def get_next_link(self) -> str | None:
        if self.next_cursor is None or self.request is None:
            return None
        url = self.request.build_absolute_uri()
        return replace_query_param(url, self.cursor_query_param, self.next_cursor)

    def get_paginated_response(self, data: Sequence[Any]) -> Response:
        return Response(OrderedDict([("next", self.get_next_link()), ("results", data)]))

    def get_paginated_response_schema(self, schema: dict[str, Any]) -> dict[str, Any]:
        return {
            "type": "object",
            "required": ["results"],
            "properties": {
                "next": {"type": "string", "nullable": True, "format": "uri"},
                "results": schema,
            },
        }

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        return [
            {
                "name": self.cursor_query_param,
                "required": False,
                "in": "query",
                "description": "The cursor of the next page, from the previous page's `next`.",
                "schema": {"type": "string"},
            },
            {
                "name": self.page_size_query_param,
                "required": False,
                "in": "query",
                "description": f"Rows a page ({self.page_size} by default, "
                f"{self.max_page_size} at most).",
                "schema": {"type": "integer"},
            },
        ]

    def export_envelope(self, rows: Rows, view: Any) -> dict[str, Any]:
        return {"next": None}
