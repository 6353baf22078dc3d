import logging
import sys

from django.contrib.auth.decorators import login_not_required
from django.db import InterfaceError, OperationalError, connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views import defaults
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from inferscope.celery import app as celery_app

logger = logging.getLogger(__name__)


def _database_status() -> str:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception as exc:  # any driver error means "down", which is what we report
        logger.warning("healthz: database check failed: %s", exc)
        return "error"
    return "ok"


def _broker_status() -> str:
    try:
        with celery_app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
    except Exception as exc:
        logger.warning("healthz: broker check failed: %s", type(exc).__name__)
        return "error"
    return "ok"


@login_not_required
@never_cache
@require_safe
def healthz(request: HttpRequest) -> JsonResponse:
    checks = {"database": _database_status(), "broker": _broker_status()}
    healthy = all(value == "ok" for value in checks.values())
    return JsonResponse(
        {"status": "ok" if healthy else "error", **checks}, status=200 if healthy else 503
    )


# A database that is down or restarting: the request may be retried as it was.
DATABASE_UNAVAILABLE = "The database is unavailable; retry after Retry-After seconds."
RETRY_AFTER_SECONDS = 5


def server_error(request: HttpRequest) -> HttpResponse:
    """handler500, for every view, DRF's included (its handler passes on what it does
    not know): an unreachable database is a 503 with Retry-After, not a 500; the API
    answers in its JSON error shape whatever failed, pages in HTML. Django has logged
    the exception already."""
    exc = sys.exc_info()[1]
    api = request.path.startswith("/api/")
    if isinstance(exc, OperationalError | InterfaceError):
        if api:
            response: HttpResponse = JsonResponse(
                {"detail": DATABASE_UNAVAILABLE, "errors": []}, status=503
            )
        else:
            response = HttpResponse(
                f"<!doctype html><title>503</title><h1>{DATABASE_UNAVAILABLE}</h1>", status=503
            )
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response
    if api:
        return JsonResponse({"detail": "Server error.", "errors": []}, status=500)
    return defaults.server_error(request)
