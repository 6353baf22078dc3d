"""What drf-spectacular cannot see for itself: our two token schemes and the one
error shape every endpoint answers with ({"detail", "errors"}, inferscope/lib/drf/errors.py).

Imported by api/docs_urls.py, which the URLconf loads before any schema is built.
"""

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema

ERROR_SCHEMA = {
    "type": "object",
    "description": "Every error: a message, and the fields at fault (empty if none).",
    "properties": {
        "detail": {"type": "string"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "field": {"type": "string", "description": "path, e.g. points[2].ttft_ms"},
                    "message": {"type": "string"},
                },
                "required": ["field", "message"],
            },
        },
    },
    "required": ["detail", "errors"],
}
ERROR_REF = {"$ref": "#/components/schemas/Error"}
# Status codes any authenticated endpoint may answer with, whatever its input.
ALWAYS = {
    "401": "Not authenticated: no session, or an unknown or revoked token.",
    "403": "Not allowed: missing permission, or a read token on an unsafe method.",
    "429": "This token's request rate is exceeded; see Retry-After.",
}


class ApiTokenScheme(OpenApiAuthenticationExtension):
    target_class = "api.authentication.ApiTokenAuthentication"
    name = "apiToken"

    def get_security_definition(self, auto_schema: AutoSchema) -> dict[str, Any]:
        return {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "isk_…",
            "description": "A personal API token (`Authorization: Bearer isk_…`), made on "
            "the settings page or with `manage.py create_api_token`. A read token may "
            "only use GET, HEAD and OPTIONS.",
        }


class AgentTokenScheme(OpenApiAuthenticationExtension):
    target_class = "collectors.api.AgentTokenAuthentication"
    name = "agentToken"

    def get_security_definition(self, auto_schema: AutoSchema) -> dict[str, Any]:
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "An agent's ingest token (Settings, Agents): it may only post "
            "batches and profiling reports, for the nodes its agent owns.",
        }


def _error(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": ERROR_REF}}}


def error_responses(
    result: dict[str, Any], generator: Any, request: Any, public: bool
) -> dict[str, Any]:
    """A postprocessing hook: documents the error answers each operation can give,
    leaving alone any an operation declares itself."""
    result.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR_SCHEMA
    for path, methods in result.get("paths", {}).items():
        for operation in methods.values():
            responses = operation.setdefault("responses", {})
            wanted = dict(ALWAYS)
            if operation.get("parameters") or operation.get("requestBody"):
                wanted["400"] = "Invalid input; `errors` names each field at fault."
            if "{" in path:
                wanted["404"] = "No such object."
            for code, description in wanted.items():
                responses.setdefault(code, _error(description))
    return result
