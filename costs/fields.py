"""Serializer fields the costs and economics APIs share."""

from typing import Any

from rest_framework import serializers

from costs.selectors import ReportError, parse_grouping


class GroupingField(serializers.CharField):
    """How a report groups its rows: deployment (the default), node, gpu or label:KEY."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("default", "deployment")
        kwargs.setdefault("max_length", 200)
        super().__init__(**kwargs)

    def run_validation(self, data: Any = serializers.empty) -> Any:
        value = super().run_validation(data)  # the length check first
        try:
            parse_grouping(value)
        except ReportError as exc:
            raise serializers.ValidationError(str(exc)) from None
        return value
