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
