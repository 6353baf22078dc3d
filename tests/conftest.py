"""Shared fixtures: the named people, one small fleet, and an agent with its token.

Tests run on PostgreSQL when DATABASE_URL is set (CI does), on SQLite otherwise.
"""

import gzip
import logging
import os
from collections.abc import Callable, Iterator
from typing import Any

import msgspec
import pytest
from django.contrib.auth.models import User
from django.test import Client
from hypothesis import settings

from collectors.models import Agent
from collectors.services import agent_create
from tests import slow
from tests.builders.ingest import INGEST_URL


def pytest_configure(config: pytest.Config) -> None:
    slow.install()
    # HYPOTHESIS_PROFILE=fast: fewer examples for a quick local run (tests/examples.py).
    settings.register_profile("fast", max_examples=10)
    settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))


# Fixtures that start a server: a test that asks for one is slow wherever it lives.
SERVER_FIXTURES = {"live_server", "browser", "page", "http_receiver", "smtp_server"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if SERVER_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item: pytest.Item) -> Iterator[None]:
    with slow.guarding(item):
        return (yield)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    with slow.guarding(item):
        return (yield)


@pytest.fixture(autouse=True)
def root_logger_restored() -> Iterator[None]:
    """Celery's worker setup (the second time it runs in one process) leaves the root
    logger at ERROR; a later test reading warnings through caplog would see none."""
    root = logging.getLogger()
    level, handlers = root.level, list(root.handlers)
    yield
    root.setLevel(level)
    root.handlers[:] = handlers


@pytest.fixture
def owner(db: None) -> User:
    return User.objects.create_superuser("alice", "alice@example.org", "alice-password-1")


@pytest.fixture
def teammate(db: None) -> User:
    return User.objects.create_user("bob", "bob@example.org", "bob-password-1")


@pytest.fixture
def outsider(db: None) -> User:
    return User.objects.create_user("charlie", "charlie@example.org", "charlie-password-1")


@pytest.fixture
def agent_token(db: None) -> tuple[Agent, str]:
    return agent_create("node-1-agent")


@pytest.fixture
def post_batch(client: Client, agent_token: tuple[Agent, str]) -> Callable[..., Any]:
    """Post a body (dict, or raw bytes) with the agent's token."""

    def post(body: dict | bytes, token: str | None = None, compress: bool = False, **extra: Any):
        data = body if isinstance(body, bytes) else msgspec.json.encode(body)
        if compress:
            data = gzip.compress(data)
            extra.setdefault("HTTP_CONTENT_ENCODING", "gzip")
        extra.setdefault("content_type", "application/json")
        return client.post(
            INGEST_URL,
            data=data,
            HTTP_AUTHORIZATION=f"Bearer {token or agent_token[1]}",
            **extra,
        )

    return post


@pytest.fixture(autouse=True)
def charts_validated(monkeypatch: pytest.MonkeyPatch) -> None:
    """Pages skip plotly's validation for speed; the tests check every figure against it."""
    from dashboard.charts import layout

    monkeypatch.setattr(layout, "VALIDATE", True)
