"""What a list, a page or a report is narrowed to: a time range, entities and labels."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

from django.db.models import Model, QuerySet

M = TypeVar("M", bound=Model)


@dataclass(frozen=True)
class Filters:
    """What a list is narrowed to; an empty sequence does not filter."""

    start: datetime | None = None  # inclusive
    end: datetime | None = None  # exclusive
    nodes: Sequence[str] = ()
    gpus: Sequence[str] = ()
    deployments: Sequence[str] = ()
    labels: Sequence[tuple[str, str]] = ()


def in_window(rows: QuerySet[M], field: str, filters: Filters) -> QuerySet[M]:
    """The rows whose `field` falls in the filter's [start, end)."""
    if filters.start is not None:
        rows = rows.filter(**{f"{field}__gte": filters.start})
    if filters.end is not None:
        rows = rows.filter(**{f"{field}__lt": filters.end})
    return rows


LABEL_HINT = "Write a label filter as key:value or key=value, for example team:search."


def split_label(text: str) -> tuple[str, str] | None:
    """`key:value` or `key=value`, split at the first separator; None when there is no
    key. Pages, the API, CSV exports and budgets read a label filter this way."""
    cut = min((i for i in (text.find(":"), text.find("=")) if i > 0), default=-1)
    if cut < 0 or not text[:cut].strip():
        return None
    return text[:cut], text[cut + 1 :]
