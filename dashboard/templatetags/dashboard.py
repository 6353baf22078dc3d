from decimal import Decimal

from django import template

register = template.Library()


@register.filter
def gib(value: int | None) -> str:
    return "—" if value is None else f"{value / 2**30:.1f} GiB"


@register.filter
def per_second(value: float | None, interval: float | None) -> str:
    if value is None or not interval:
        return "—"
    return f"{value / interval:,.0f}/s"


@register.filter
def number(value: float | None, digits: int = 0) -> str:
    return "—" if value is None else f"{value:,.{digits}f}"


@register.filter
def usd(value: Decimal | float | str | None, digits: int = 2) -> str:
    """Dollars with thousands separators: 1234.5 -> $1,234.50."""
    if value is None or value == "":
        return "—"
    return f"${Decimal(str(value)):,.{digits}f}"


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
