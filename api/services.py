"""Personal API tokens: created (shown once), looked up by hash, revoked."""

import secrets
from datetime import datetime, timedelta

from django.contrib.auth.models import User
from django.utils import timezone

from api.choices import TokenScope
from api.models import ApiToken
from collectors.models.fleet import hash_token

# Says what a leaked string is (secret scanners match on it) and keeps it apart
# from agent tokens, which share the Authorization header.
TOKEN_PREFIX = "isk_"
# Writing last_used_at on every request would turn each read into a write.
LAST_USED_EVERY = timedelta(minutes=1)


class TokenError(ValueError):
    """A token that cannot be made as asked; the message names the field's problem."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def api_token_create(user: User, name: str, scope: str) -> tuple[ApiToken, str]:
    """A new token for `user`; the clear token is returned here and never again."""
    name = name.strip()
    if not name or len(name) > 100:
        raise TokenError("name", "Give the token a name of 1 to 100 characters.")
    if scope not in TokenScope.values:
        raise TokenError("scope", f"Scope must be one of: {', '.join(TokenScope.values)}.")
    if not user.is_active:
        raise TokenError("user", "That user is inactive.")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = ApiToken.objects.create(
        user=user, name=name, scope=scope, token_hash=hash_token(token), prefix=token[:12]
    )
    return row, token


def api_token_revoke(token: ApiToken, now: datetime | None = None) -> bool:
    """False when it was already revoked."""
    if token.revoked_at is not None:
        return False
    token.revoked_at = now or timezone.now()
    token.save(update_fields=["revoked_at"])
    return True


def api_token_lookup(token: str) -> ApiToken | None:
    """The active token's row with its user, None for an unknown or revoked one."""
    row = (
        ApiToken.objects.select_related("user")
        .filter(token_hash=hash_token(token), revoked_at__isnull=True)
        .first()
    )
    if row is None or not row.user.is_active:
        return None
    now = timezone.now()
    if row.last_used_at is None or now - row.last_used_at >= LAST_USED_EVERY:
        ApiToken.objects.filter(pk=row.pk).update(last_used_at=now)
        row.last_used_at = now
    return row
