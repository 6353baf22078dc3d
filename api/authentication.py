"""`Authorization: Bearer isk_…`: a person's API token, within its scope."""

from typing import Any

from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.permissions import SAFE_METHODS
from rest_framework.request import Request

from api.choices import TokenScope
from api.models import ApiToken
from api.services import TOKEN_PREFIX, api_token_lookup


class ApiTokenAuthentication(BaseAuthentication):
    """Authenticates as the token's user. A read token may only use safe methods:
    the check is here, not in each view's permissions, so no view can forget it."""

    def authenticate(self, request: Request) -> tuple[Any, ApiToken] | None:
        parts = get_authorization_header(request).split()
        if len(parts) != 2 or parts[0].lower() != b"bearer":
            return None
        token = parts[1].decode("latin-1")
        if not token.startswith(TOKEN_PREFIX):
            return None  # an agent's token: the ingest views authenticate those
        row = api_token_lookup(token)
        if row is None:
            raise exceptions.AuthenticationFailed("Unknown or revoked API token.")
        if row.scope == TokenScope.READ and request.method not in SAFE_METHODS:
            raise exceptions.PermissionDenied("This token's scope is read: it cannot change data.")
        return (row.user, row)

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="inferscope"'
