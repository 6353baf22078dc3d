"""The settings page's rows: agents, users and API tokens, as one user may see them."""

from dataclasses import dataclass
from datetime import datetime

from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.db.models import QuerySet

from api.models import ApiToken
from collectors.models import Agent

STALE_AFTER_S = 120


@dataclass(frozen=True)
class SettingsPage:
    agents: QuerySet[Agent]
    now: datetime
    stale_after_s: int
    users: QuerySet[User] | None  # None: this user may not see the others
    api_tokens: QuerySet[ApiToken]
    # Superusers may revoke anyone's token, e.g. one a departed teammate left behind.
    others_api_tokens: QuerySet[ApiToken] | None


def settings_rows(user: User, now: datetime) -> SettingsPage:
    return SettingsPage(
        agents=Agent.objects.prefetch_related("nodes"),
        now=now,
        stale_after_s=STALE_AFTER_S,
        users=get_user_model().objects.order_by("username")
        if user.has_perm("auth.view_user")
        else None,
        api_tokens=ApiToken.objects.filter(user=user),
        others_api_tokens=ApiToken.objects.exclude(user=user).select_related("user")
        if user.is_superuser
        else None,
    )
