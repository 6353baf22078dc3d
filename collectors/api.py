"""POST /api/v1/ingest: the one door through which agents write."""

import logging
import zlib
from typing import Any

from django.conf import settings
from django.db import OperationalError
from django.utils.http import parse_header_parameters
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from psycopg.errors import DeadlockDetected, LockNotAvailable, SerializationFailure
from rest_framework import exceptions, permissions, serializers
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.parsers import BaseParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from collectors.ingest import IngestError, ingest_batch
from collectors.models import Agent
from collectors.models.fleet import hash_token
from inferscope.lib.drf.errors import FieldErrors, PayloadTooLarge

logger = logging.getLogger(__name__)


class AgentTokenAuthentication(BaseAuthentication):
    """`Authorization: Bearer <agent token>`; only the token's hash is looked up."""

    def authenticate(self, request: Request) -> tuple[None, Agent] | None:
        parts = get_authorization_header(request).split()
        if not parts or parts[0].lower() != b"bearer":
            return None
        if len(parts) != 2:
            raise exceptions.AuthenticationFailed("Expected 'Authorization: Bearer <token>'.")
        token = parts[1].decode("latin-1")
        agent = Agent.objects.filter(token_hash=hash_token(token)).first()
        if agent is None:
            raise exceptions.AuthenticationFailed("Unknown agent token.")
        if agent.revoked_at is not None:
            raise exceptions.AuthenticationFailed("This agent token has been revoked.")
        return (None, agent)

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="inferscope"'


class HasAgentToken(permissions.BasePermission):
    def has_permission(self, request: Request, view: Any) -> bool:
        return isinstance(request.auth, Agent)


class IngestBodyParser(BaseParser):
    """Hands the view the raw JSON bytes, inflating gzip, within the size limit."""

    media_type = "application/json"

    # Returns bytes, not a mapping: the ingest service decodes and validates the
    # body in one pass, faster than DRF's JSON parser plus a serializer.
    def parse(  # type: ignore[override]
        self, stream: Any, media_type: str | None = None, parser_context: Any = None
    ) -> bytes:
        _check_content_type(media_type or "")
        limit = settings.INGEST_MAX_BODY_BYTES
        meta = parser_context["request"].META
        try:
            declared = int(meta.get("CONTENT_LENGTH") or 0)
        except ValueError:
            declared = 0
        if declared > limit:
            raise PayloadTooLarge(f"The body is {declared} bytes; the limit is {limit}.")
        body = stream.read(limit + 1)
        if len(body) > limit:
            raise PayloadTooLarge(f"The body is over the limit of {limit} bytes.")
        encoding = meta.get("HTTP_CONTENT_ENCODING", "").strip().lower()
        if encoding in ("", "identity"):
            return body
        if encoding != "gzip":
            raise exceptions.UnsupportedMediaType(
                media_type or "",
                f"Content-Encoding {encoding!r} is not supported; use gzip or none.",
            )
        return _gunzip(body, limit)


def _check_content_type(content_type: str) -> None:
    """Exactly application/json in UTF-8: DRF would also take `*/*` or `application/*`,
    and a UTF-16 body would be decoded as UTF-8."""
    main, params = parse_header_parameters(content_type)
    charset = params.get("charset", "utf-8").lower()
    if main.lower() != "application/json" or charset not in ("utf-8", "utf8"):
        raise exceptions.UnsupportedMediaType(
            content_type, f"Content-Type {content_type!r}: send application/json in UTF-8."
        )


def _gunzip(body: bytes, limit: int) -> bytes:
    inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    try:
        data = inflater.decompress(body, limit + 1)
    except zlib.error:
        raise exceptions.ParseError("The body is not valid gzip.") from None
    if len(data) > limit or inflater.unconsumed_tail:
        raise PayloadTooLarge(f"The body inflates to more than the limit of {limit} bytes.")
    if not inflater.eof:
        raise exceptions.ParseError("The gzip body is truncated.")
    if inflater.unused_data:
        raise exceptions.ParseError("Data follows the gzip stream; send one gzip member.")
    return data


# The body is checked by msgspec (collectors/schema.py), not a serializer; the schema
# names its two required fields and points to the whole contract.
BATCH_SCHEMA = {
    "type": "object",
    "description": "A batch of inventory and samples, as docs/ingest.md describes it; "
    "gzip with `Content-Encoding: gzip`.",
    "properties": {
        "schema_version": {"type": "integer", "enum": [1]},
        "batch_id": {"type": "string", "minLength": 1, "maxLength": 64},
        "agent_version": {"type": "string"},
        "inventory": {"type": "object"},
        "gpu_samples": {"type": "array", "items": {"type": "object"}},
        "inference_samples": {"type": "array", "items": {"type": "object"}},
    },
    "required": ["schema_version", "batch_id"],
}
INGEST_RESULT = inline_serializer(
    "IngestResult",
    {
        "batch_id": serializers.CharField(),
        "accepted": inline_serializer(
            "IngestAccepted",
            {
                "gpu_samples": serializers.IntegerField(),
                "inference_samples": serializers.IntegerField(),
            },
        ),
        "duplicate": serializers.BooleanField(help_text="already stored: nothing was added"),
    },
)


def _error(description: str) -> OpenApiResponse:
    # The Error component is added by the schema's hook (api/schema.py).
    return OpenApiResponse({"$ref": "#/components/schemas/Error"}, description=description)


@extend_schema(
    request={"application/json": BATCH_SCHEMA},
    responses={
        200: INGEST_RESULT,
        411: _error("A chunked body: send a Content-Length."),
        413: _error("The body, or its inflated size, is over the limit."),
        415: _error("A Content-Encoding other than gzip."),
        503: _error("The database is busy; retry after Retry-After seconds."),
    },
)
class IngestView(APIView):
    authentication_classes = [AgentTokenAuthentication]
    permission_classes = [HasAgentToken]
    parser_classes = [IngestBodyParser]

    def post(self, request: Request) -> Response:
        body = request.data
        if not isinstance(body, bytes) or not body:
            if "chunked" in request.META.get("HTTP_TRANSFER_ENCODING", "").lower():
                raise LengthRequired()
            raise FieldErrors([{"field": "", "message": "The body is empty."}])
        try:
            result = ingest_batch(request.auth, body)
        except IngestError as exc:
            raise FieldErrors(exc.errors) from None
        except OperationalError as exc:
            if not _is_contention(exc):
                raise
            # A lock timeout or deadlock with a concurrent batch: nothing was
            # stored, and the same batch will go through when retried.
            logger.warning("ingest: batch from agent %s deferred: %s", request.auth.pk, exc)
            raise Busy() from None
        return Response(result.as_dict())


def _is_contention(exc: OperationalError) -> bool:
    if isinstance(exc.__cause__, LockNotAvailable | DeadlockDetected | SerializationFailure):
        return True
    return "database is locked" in str(exc)  # SQLite's busy timeout ran out


class LengthRequired(exceptions.APIException):
    status_code = 411
    default_detail = "Send the body with a Content-Length header; chunked bodies are not read."
    default_code = "length_required"


class Busy(exceptions.APIException):
    status_code = 503
    default_detail = "The database is busy; retry this batch shortly."
    default_code = "busy"

    def __init__(self) -> None:
        super().__init__()
        self.wait = 2  # DRF sends it as Retry-After
