"""Fixed numbers of the recommendation rules."""

# Savings are stated per average month (inferscope.lib.money.DAYS_PER_MONTH).
# The window every rule looks back over.
WINDOW_DAYS = 7
