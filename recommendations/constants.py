"""Fixed numbers of the recommendation rules."""

from decimal import Decimal

# Savings are stated per average month: 365.25 / 12 days.
DAYS_PER_MONTH = Decimal("30.4375")
# The window every rule looks back over.
WINDOW_DAYS = 7
