import pytest
from django.core.management import CommandError, call_command

from collectors.models import Agent
from collectors.models.fleet import hash_token
from tests.builders.ingest import batch

pytestmark = pytest.mark.django_db


def test_it_prints_a_token_once_and_stores_only_its_hash(capsys, post_batch):
    call_command("create_agent", "gpu-node-7")
    out = capsys.readouterr().out.splitlines()
    token = out[-1]
    assert token.startswith("isa_") and len(token) > 40
    agent = Agent.objects.get(name="gpu-node-7")
    assert agent.token_hash == hash_token(token)
    assert token not in {agent.token_hash, agent.token_prefix}
    assert post_batch(batch(), token=token).status_code == 200


def test_it_refuses_a_duplicate_name():
    call_command("create_agent", "dup")
    with pytest.raises(CommandError, match="already exists"):
        call_command("create_agent", "dup")


def test_it_refuses_a_blank_name():
    with pytest.raises(CommandError, match="1 to 200"):
        call_command("create_agent", "  ")
