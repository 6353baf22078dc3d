from datetime import timedelta

import msgspec
import pytest

from collectors.ingest import ingest_batch
from collectors.models import Agent
from tests.builders.ingest import batch, now_utc

pytestmark = pytest.mark.django_db


def test_last_seen_moves_at_most_every_thirty_seconds(agent_token):
    agent, _ = agent_token
    start = now_utc()
    ingest_batch(agent, msgspec.json.encode(batch("b1")), now=start)
    agent.refresh_from_db()
    assert agent.last_seen_at == start
    ingest_batch(agent, msgspec.json.encode(batch("b2")), now=start + timedelta(seconds=10))
    agent.refresh_from_db()
    assert agent.last_seen_at == start
    ingest_batch(agent, msgspec.json.encode(batch("b3")), now=start + timedelta(seconds=31))
    assert Agent.objects.get(pk=agent.pk).last_seen_at == start + timedelta(seconds=31)


def test_a_new_agent_version_is_recorded_at_once(agent_token):
    agent, _ = agent_token
    start = now_utc()
    ingest_batch(agent, msgspec.json.encode(batch("b1")), now=start)
    agent.refresh_from_db()
    later = start + timedelta(seconds=5)
    ingest_batch(agent, msgspec.json.encode(batch("b2", agent_version="0.2.0")), now=later)
    agent.refresh_from_db()
    assert (agent.version, agent.last_seen_at) == ("0.2.0", later)


def test_the_agents_dropped_sample_count_only_rises(agent_token):
    agent, _ = agent_token
    start = now_utc()
    for batch_id, dropped in (("b1", 7), ("b2", 5), ("b3", 9)):
        body = batch(batch_id, agent_stats={"dropped_samples": dropped})
        ingest_batch(agent, msgspec.json.encode(body), now=start)
    assert Agent.objects.get(pk=agent.pk).dropped_samples == 9
