from datetime import datetime
from decimal import Decimal

from django import template
from django.utils import timezone

from costs.economics.phases import BASIS_LABELS
from inferscope.lib.timerange import RANGE_PARAMS, TimeRange

register = template.Library()


@register.filter
def gib(value: int | None) -> str:
    return "—" if value is None or value == "" else f"{value / 2**30:.1f} GiB"


@register.filter
def per_second(value: float | None, interval: float | None) -> str:
    if value is None or not interval:
        return "—"
    return f"{value / interval:,.0f}/s"


@register.filter
def number(value: float | None, digits: int = 0) -> str:
    # "" is what a template gives for a missing key: no figure, like None.
    return "—" if value is None or value == "" else f"{value:,.{digits}f}"


@register.filter
def usd(value: Decimal | float | str | None, digits: int = 2) -> str:
    """Dollars with thousands separators: 1234.5 -> $1,234.50."""
    if value is None or value == "":
        return "—"
    amount = Decimal(str(value))
    # -$1.50, not $-1.50; and a cost that rounds to zero is $0.00, not -$0.00.
    text = f"${abs(amount):,.{digits}f}"
    return f"-{text}" if amount < 0 and text.strip("$0.,") else text


_SIZES = ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "k"))


@register.filter
def compact(value: float | None) -> str:
    """A big count in short form: 2160000 -> 2.16M."""
    if value is None:
        return "—"
    for size, suffix in _SIZES:
        if abs(value) >= size:
            scaled = value / size
            places = 2 if abs(scaled) < 10 else 1 if abs(scaled) < 100 else 0
            return f"{scaled:,.{places}f}{suffix}"
    return f"{value:,.0f}"


@register.simple_tag
def range_query(tr: TimeRange, **changes: str) -> str:
    """A link's query string: this page's range and label filter with `changes` applied."""
    return "?" + tr.query(**changes)


@register.simple_tag(takes_context=True)
def here_query(context: template.Context, tr: TimeRange, **changes: str) -> str:
    """Like range_query, keeping this page's own filters too (status, grouping, ...)."""
    own = {k: v for k, v in context["request"].GET.items() if k not in RANGE_PARAMS}
    return "?" + tr.query(**{**own, **changes})


@register.filter
def percent(value: float | None, digits: int = 1) -> str:
    """A fraction as a percentage: 0.123 -> 12.3%."""
    return "—" if value is None or value == "" else f"{value * 100:.{digits}f}%"


@register.filter
def ms(seconds: float | None) -> str:
    """Seconds as milliseconds, or seconds past 10 s: 0.0423 -> 42 ms."""
    # "": the template's missing figure (a deployment with no traffic has no latencies).
    if seconds is None or seconds == "":
        return "—"
    if seconds >= 10:
        return f"{seconds:,.1f} s"
    return f"{seconds * 1000:,.0f} ms" if seconds >= 0.01 else f"{seconds * 1000:.1f} ms"


@register.filter
def ago(ts: datetime | None) -> str:
    """How long ago, in the largest unit that fits: '42 s ago', '3 h ago', 'never'."""
    if ts is None:
        return "never"
    seconds = max(0, int((timezone.now() - ts).total_seconds()))
    for size, unit in ((86400, "d"), (3600, "h"), (60, "min")):
        if seconds >= size:
            return f"{seconds // size} {unit} ago"
    return f"{seconds} s ago"


@register.filter
def per_month(value: Decimal | float | str | None) -> str:
    """A recommendation's monthly saving; a negative one (added capacity) is a cost."""
    if value is None or value == "":
        return "—"
    amount = Decimal(str(value))
    return f"costs {usd(-amount)}/month" if amount < 0 else f"{usd(amount)}/month"


@register.filter
def phase_basis(basis: str | None, short: str = "") -> str:
    """How a prefill/decode split was found; "short" gives its first word (measured, modelled)."""
    text = BASIS_LABELS.get(basis or "")
    if text is None:
        return "not known"
    return text.split(" (", 1)[0] if short else text
