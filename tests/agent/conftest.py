"""Fixtures shared by the agent's tests."""

import pytest

from collectors.models import Node
from collectors.services import agent_create
from tests.agent.profiling_support import NODE


@pytest.fixture
def token() -> str:
    agent, token = agent_create("gpu-node-1-agent")
    Node.objects.create(name=NODE, agent=agent)  # as its first ingest batch would
    return token
