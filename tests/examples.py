"""How many examples a hypothesis test tries: the full count in a plain `pytest` run (CI),
a tenth of it (at least 5) with HYPOTHESIS_PROFILE=fast, for a quick local
`pytest -m "not slow"`. The same variable picks hypothesis' own profile (tests/conftest.py)."""

import os

FAST = os.environ.get("HYPOTHESIS_PROFILE") == "fast"


def examples(full: int) -> int:
    """`full`, or a tenth of it in the fast profile."""
    return max(5, full // 10) if FAST else full
