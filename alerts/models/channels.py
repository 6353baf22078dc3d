from urllib.parse import urlsplit

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator, validate_email
from django.db import models

from alerts.choices import ChannelKind, DeliveryStatus

__all__ = ["Channel", "Delivery", "DeliveryAttempt"]


def mask(secret: str) -> str:
    """Enough of a URL to recognise it (scheme, host, last 4 characters), never enough
    to use it: no user, password, path or query."""
    if not secret:
        return ""
    try:
        parts = urlsplit(secret)
        host = parts.hostname or ""
    except ValueError:
        host = ""
    if not host:
        return "…"
    return f"{parts.scheme}://{host}/…{secret[-4:]}"


class Channel(models.Model):
    """One place alerts go: a list of email addresses, a Slack incoming webhook, or a
    signed webhook. Slack and webhook URLs are secrets: pages and logs show them masked."""

    name = models.CharField(max_length=200, unique=True)
    kind = models.CharField(max_length=20, choices=ChannelKind.choices)
    email_to = models.TextField(blank=True, help_text="addresses, one per line or comma-separated")
    url = models.CharField(max_length=1000, blank=True, help_text="Slack or webhook URL")
    secret = models.CharField(
        max_length=200, blank=True, help_text="webhooks: the HMAC-SHA256 signing key"
    )
    enabled = models.BooleanField(default=True)
    disabled_reason = models.CharField(
        max_length=500, blank=True, help_text="why delivery stopped (a permanent error)"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_kind_display()})"

    @property
    def masked_url(self) -> str:
        return mask(self.url)

    @property
    def recipients(self) -> list[str]:
        return [a.strip() for a in self.email_to.replace(",", "\n").splitlines() if a.strip()]

    def clean(self) -> None:
        errors: dict[str, str] = {}
        if self.kind == ChannelKind.EMAIL:
            if not self.recipients:
                errors["email_to"] = "Give at least one address."
            for address in self.recipients:
                try:
                    validate_email(address)
                except ValidationError:
                    errors["email_to"] = f"{address!r} is not an email address."
        elif self.kind in (ChannelKind.SLACK, ChannelKind.WEBHOOK):
            try:
                URLValidator(schemes=["http", "https"])(self.url)
                urlsplit(self.url).port  # noqa: B018 (raises on a bad port)
            except (ValidationError, ValueError):
                errors["url"] = "Give a valid http:// or https:// URL."
            if self.kind == ChannelKind.WEBHOOK and len(self.secret) < 16:
                errors["secret"] = "Give a signing key of at least 16 characters."
        if errors:
            raise ValidationError(errors)


class Delivery(models.Model):
    """One message to one channel: an alert event, or a "send test". Its attempts
    are logged below it; a broken channel fails its own deliveries only."""

    event = models.ForeignKey(
        "alerts.AlertEvent",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="deliveries",
    )
    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="deliveries")
    test = models.BooleanField(default=False)
    status = models.CharField(
        max_length=10, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING
    )
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["event", "channel"],
                condition=models.Q(event__isnull=False),
                name="delivery_once_per_event_channel",
            )
        ]
        indexes = [models.Index(fields=["status", "-created_at"], name="delivery_status")]

    def __str__(self) -> str:
        what = "test" if self.test else f"event {self.event_id}"
        return f"{what} to {self.channel}: {self.status}"


class DeliveryAttempt(models.Model):
    """One try at sending a delivery: when, how long, and what went wrong."""

    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="attempt_log")
    at = models.DateTimeField(auto_now_add=True)
    ok = models.BooleanField()
    duration_ms = models.PositiveIntegerField()
    error = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["at"]

    def __str__(self) -> str:
        return f"{'ok' if self.ok else 'failed'} at {self.at:%Y-%m-%d %H:%M:%S}"
