"""The dashboard's fixture: a day of the hand-checked fleet ending at this hour."""

from datetime import datetime

import pytest

from tests.dashboard.pages import store_page_fleet


@pytest.fixture
def fleet(db: None) -> datetime:
    return store_page_fleet()
