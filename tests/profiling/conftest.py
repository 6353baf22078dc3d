"""Fixtures shared by the profiling tests."""

import pytest

from collectors.models import Node
from collectors.services import agent_create


@pytest.fixture
def agent():
    agent, token = agent_create("gpu-1-agent")
    Node.objects.create(name="gpu-1", agent=agent)
    agent.token = token
    return agent
