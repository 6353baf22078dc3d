"""Fixtures shared by the API tests: the small two-node fleet and a read-token client."""

from typing import Any

import pytest
from django.test import Client

from api.services import api_token_create
from tests.api.fleet import bearer, make_fleet


@pytest.fixture
def fleet() -> dict[str, Any]:
    return make_fleet()


@pytest.fixture
def reader(owner) -> Client:
    """A client with alice's read token."""
    _, token = api_token_create(owner, "grafana", "read")
    return Client(**bearer(token))
