"""What every range-driven page shares: the range and label filter from the URL."""

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from collectors.selectors import deployment_label_pairs, label_scope
from dashboard.selectors.scope import PageRange
from inferscope.lib.timerange import PRESETS, RangeError, parse_range


def page_range(request: HttpRequest, default: str = "24h") -> PageRange:
    """The URL's range and label filter; a bad one falls back to the default, with its errors."""
    now = timezone.now()
    raw_since = now - timedelta(days=settings.RAW_SAMPLE_RETENTION_DAYS)
    minute_since = now - timedelta(days=settings.MINUTE_ROLLUP_RETENTION_DAYS)
    try:
        tr, errors = parse_range(request.GET, now, raw_since, default, minute_since), {}
    except RangeError as exc:
        tr, errors = parse_range({}, now, raw_since, default, minute_since), exc.errors
    scope = label_scope(tr.label)
    if scope is None:
        return PageRange(tr, errors, None, None)
    return PageRange(tr, errors, *scope)


def render_ranged(
    request: HttpRequest, template: str, pr: PageRange, context: dict[str, Any]
) -> HttpResponse:
    """Render with the range picker's context; a range error answers 400 with its message."""
    context = {
        **context,
        "tr": pr.tr,
        "range_errors": pr.errors,
        "presets": list(PRESETS),
        "label_choices": deployment_label_pairs(),
    }
    return render(request, template, context, status=400 if pr.errors else 200)
