"""System checks for configuration that imports but is wrong."""

from urllib.parse import urlsplit

from django.conf import settings
from django.core.checks import CheckMessage, Error, Warning, register


@register()
def settings_check(app_configs: object = None, **kwargs: object) -> list[CheckMessage]:
    messages: list[CheckMessage] = []
    host = urlsplit(settings.SITE_URL).hostname or ""
    if host and "*" not in settings.ALLOWED_HOSTS and host not in settings.ALLOWED_HOSTS:
        messages.append(
            Warning(
                f"SITE_URL host {host!r} is not in ALLOWED_HOSTS; links in alerts will not open.",
                id="inferscope.W001",
            )
        )
    if not settings.EMAIL_HOST and settings.EMAIL_BACKEND.endswith("smtp.EmailBackend"):
        messages.append(
            Warning(
                "EMAIL_BACKEND is SMTP but EMAIL_HOST is not set; alert email cannot be sent.",
                id="inferscope.W002",
            )
        )
    scheme = urlsplit(settings.CELERY_BROKER_URL).scheme
    if scheme not in {"filesystem", "redis", "rediss", "amqp", "amqps", "pyamqp", "memory"}:
        messages.append(
            Error(f"CELERY_BROKER_URL scheme {scheme!r} is not supported.", id="inferscope.E001")
        )
    return messages
