"""Dollars as the whole product keeps them: micro-dollars stored, cents shown, and one
definition of a month. Plain Python, so any layer may use it."""

from decimal import ROUND_HALF_UP, Decimal

MICRO = Decimal("0.000001")
CENT = Decimal("0.01")
# An average month of the Gregorian calendar: 365.25 / 12 days, 8766 / 12 hours.
DAYS_PER_MONTH = Decimal("30.4375")
HOURS_PER_YEAR = 8766
HOURS_PER_MONTH = HOURS_PER_YEAR / 12


def micro(value: Decimal | float | int | str | None) -> Decimal:
    """A dollar amount to the micro-dollar, as cost records store it; None is zero.

    Sums come back through it because SQLite sums decimals as floats."""
    return Decimal(str(value or 0)).quantize(MICRO)


def cents(value: Decimal | float | int | str) -> Decimal:
    """A dollar amount to the cent, half up, as pages and messages show it."""
    return Decimal(str(value)).quantize(CENT, ROUND_HALF_UP)
