"""Serializer fields every API shares."""

from datetime import UTC
from typing import Any

from rest_framework import serializers


class UtcDateTimeField(serializers.DateTimeField):
    """ISO 8601 in and out; a time without an offset is UTC, and output is always UTC."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(default_timezone=UTC, **kwargs)
