"""Dollars as a finding states them: to the cent, a window's as a month's."""

from decimal import Decimal

from inferscope.lib.money import DAYS_PER_MONTH, cents
from recommendations.context import Context

__all__ = ["cents", "monthly", "monthly_arithmetic", "unit_price"]


def monthly(window_usd: Decimal | float, ctx: Context) -> Decimal:
    """A window's dollars as an average month's: x 30.4375 / days."""
    return cents(Decimal(str(window_usd)) * DAYS_PER_MONTH / ctx.days)


def monthly_arithmetic(window_usd: Decimal | float, ctx: Context, what: str = "") -> str:
    """'$420.00 over 7 days x 30.4375 / 7 = $1826.25 per month', `what` before it."""
    text = (
        f"${cents(window_usd)} over {ctx.days} days x {DAYS_PER_MONTH} / {ctx.days}"
        f" = ${monthly(window_usd, ctx)} per month"
    )
    return f"{what}: {text}" if what else text


def unit_price(value: Decimal) -> str:
    """$ per GPU-hour or per 1M tokens: to the cent, or to the 4 places a price book
    or price list may have."""
    exact = value.quantize(Decimal("0.0001")).normalize()
    return str(cents(value)) if exact == cents(value) else f"{exact:f}"
