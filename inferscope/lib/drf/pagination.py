"""Bounded pages: numbered pages for short lists, a keyset cursor for time series.

A `page_size` above the maximum is cut to the maximum, not refused, so a client that
asks for "everything" still gets a valid page and a `next` link.
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
from inferscope.lib.drf.query import EARLIEST_YEAR, LATEST_YEAR


class PagePagination(PageNumberPagination):
    """`?page=2&page_size=50`; 100 rows a page unless asked, 500 at most."""

    page_size = 100
    page_size_query_param = "page_size"
    max_page_size = 500


class CheckedPagePagination(PagePagination):
    """Numbered pages where a page that does not exist (`page=0`, `page=x`, past the
    last) is a 400 naming `page`, as any other bad parameter."""

    def paginate_queryset(
        self, queryset: Any, request: Request, view: Any = None
    ) -> list[Any] | None:
        try:
            return super().paginate_queryset(queryset, request, view)
        except NotFound:
            raise FieldErrors(
                [{"field": "page", "message": "There is no such page."}], "Invalid request."
            ) from None


class WindowPagePagination(CheckedPagePagination):
    """Pages of figures over a period: the page says the period it covers, `start` to
    `end` (whole UTC hours), which the view sets in `window` before paging."""

    window: tuple[datetime, datetime] | None = None

    def get_paginated_response(self, data: Any) -> Response:
        response = super().get_paginated_response(data)
        assert self.window is not None, "the view sets the window before paging"
        start, end = (iso_utc(moment) for moment in self.window)
        response.data = OrderedDict([("start", start), ("end", end), *response.data.items()])
        return response

    def get_paginated_response_schema(self, schema: dict[str, Any]) -> dict[str, Any]:
        page = super().get_paginated_response_schema(schema)
        moment = {"type": "string", "format": "date-time"}
        page["properties"] = {"start": moment, "end": moment, **page["properties"]}
        page["required"] = ["start", "end", *page.get("required", [])]
        return page


class TimeCursorPagination(BasePagination):
    """`?cursor=…&page_size=…` over rows ordered by (time, id), oldest first.

    DRF's CursorPagination keeps its place by the time column plus an offset, which it
    caps at 1,000 rows: a fleet of 1,000 GPUs writes more rows than that at one instant,
    and a page would repeat. The cursor here holds the last row's (time, id) instead,
    so each page is one index range scan however deep the client reads. The view names
    its time column in `time_field`.
    """

    page_size = 500
    page_size_query_param = "page_size"
    max_page_size = 5000
    cursor_query_param = "cursor"
    _CURSOR = re.compile(r"(?P<ts>[0-9T:.+\-]{19,40})\|(?P<pk>[0-9]{1,18})")

    def __init__(self) -> None:
        self.request: Request | None = None
        self.next_cursor: str | None = None

    def get_page_size(self, request: Request) -> int:
        value = request.query_params.get(self.page_size_query_param, "")
        if not re.fullmatch(r"[0-9]{1,9}", value) or int(value) == 0:
            return self.page_size
        return min(int(value), self.max_page_size)

    def paginate_queryset(
        self, queryset: QuerySet[Any], request: Request, view: Any = None
    ) -> list[Any]:
        field = view.time_field
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
            raise FieldErrors(
                [{"field": "cursor", "message": "Not a cursor this API gave out."}],
                "Invalid query parameters.",
            ) from None
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
