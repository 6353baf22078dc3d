"""Typed JSON columns: validate a record once where it is written, decode it once
where it is read.

Writers call `dump` (strict: a wrong shape is the writer's bug or bad input, and
raises). Readers call `load`, which is lenient about old rows (missing fields take
their defaults, a count stored as a string of digits is still a count) and returns
None, with a logged warning, for a row it cannot read: a page then shows the
record as unreadable instead of failing.
"""

import logging
import re
from typing import Any, TypeVar

import msgspec

logger = logging.getLogger(__name__)

T = TypeVar("T")

__all__ = ["RecordError", "dump", "load"]


class RecordError(ValueError):
    """A record refused on write; `field` is its dotted path ("" for the whole;
    msgspec names a dict's key "[...]")."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}" if field else message)
        self.field = field
        self.message = message


def _split(exc: msgspec.ValidationError) -> tuple[str, str]:
    # msgspec says "Expected `int`, got `str` - at `$.points[0].batch_size`".
    text = str(exc)
    message, _, where = text.partition(" - at `")
    # As the API's other field errors name a list item: "points.0.batch_size".
    path = re.sub(r"\[(\d+)\]", r".\1", where.rstrip("`").removeprefix("$"))
    return path.removeprefix("."), message


def dump(value: Any, kind: type[T], field: str = "") -> Any:
    """`value` checked against `kind`, as plain JSON for a JSONField."""
    try:
        record = msgspec.convert(value, kind)
    except msgspec.ValidationError as exc:
        path, message = _split(exc)
        joined = ".".join(p for p in (field, path) if p)
        raise RecordError(joined, message) from None
    return msgspec.to_builtins(record)


def load(value: Any, kind: type[T], what: str) -> T | None:
    """The stored JSON as `kind`, or None (logged) when it cannot be read as one."""
    try:
        return msgspec.convert(value, kind, strict=False)
    except msgspec.ValidationError as exc:
        logger.warning("unreadable %s: %s", what, exc)
        return None
