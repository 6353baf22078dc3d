"""One error shape for every API response: {"detail": str, "errors": [{"field", "message"}]}."""

from copy import copy
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import exceptions, serializers, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler


class PayloadTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "Request body is too large."
    default_code = "payload_too_large"


class FieldErrors(exceptions.APIException):
    """A 400 that carries a list of {"field": path, "message": text}."""

    status_code = status.HTTP_400_BAD_REQUEST
    default_code = "invalid"

    def __init__(self, errors: list[dict[str, str]], detail: str = "Invalid request body.") -> None:
        super().__init__(detail)
        self.errors = errors


def _flatten(data: Any, prefix: str = "") -> list[dict[str, str]]:
    if isinstance(data, dict):
        out: list[dict[str, str]] = []
        for key, value in data.items():
            path = key if not prefix else f"{prefix}.{key}"
            if key == "non_field_errors":
                path = prefix
            out.extend(_flatten(value, path))
        return out
    if isinstance(data, list) and all(isinstance(item, str) for item in data):
        return [{"field": prefix, "message": str(item)} for item in data]
    if isinstance(data, list):
        out = []
        for index, value in enumerate(data):
            out.extend(_flatten(value, f"{prefix}[{index}]"))
        return out
    return [{"field": prefix, "message": str(data)}]


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, FieldErrors):
        response.data = {"detail": str(exc.detail), "errors": exc.errors}
    elif isinstance(exc, exceptions.ValidationError):
        response.data = {"detail": "Invalid request.", "errors": _flatten(exc.detail)}
    elif isinstance(response.data, dict) and "detail" in response.data:
        response.data = {"detail": str(response.data["detail"]), "errors": []}
    return response


class CleanModelSerializer(serializers.ModelSerializer):
    """Runs the model's clean() on the validated values, so each rule is written once
    for the admin's forms and the API; its errors come back as field errors."""

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        attrs = super().validate(attrs)
        model: Any = self.Meta.model
        instance = copy(self.instance) if self.instance is not None else model()
        for name, value in attrs.items():
            setattr(instance, name, value)
        try:
            instance.clean()
        except DjangoValidationError as exc:
            raise serializers.ValidationError(serializers.as_serializer_error(exc)) from None
        return attrs
