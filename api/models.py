from django.conf import settings
from django.db import models

from api.choices import TokenScope

__all__ = ["ApiToken"]


class ApiToken(models.Model):
    """A personal API token: it acts as its user, within its scope.

    Only a SHA-256 of the token is stored; the token itself is shown once, when it is
    created. `prefix` (its first characters) tells tokens apart in lists and logs.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    name = models.CharField(max_length=100, help_text="what it is for, e.g. 'grafana'")
    scope = models.CharField(max_length=10, choices=TokenScope.choices)
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    prefix = models.CharField(max_length=16, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "API token"

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…, {self.scope})"

    @property
    def active(self) -> bool:
        return self.revoked_at is None
