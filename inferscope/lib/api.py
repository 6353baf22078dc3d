"""One error shape for every API response: {"detail": str, "errors": [{"field", "message"}]}."""

from typing import Any

from rest_framework import exceptions, status
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
