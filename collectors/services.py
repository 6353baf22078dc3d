from pathlib import Path

from django.db import transaction
from django.utils import timezone

from collectors.models import Agent
from inferscope.lib.paths import write_private


@transaction.atomic
def agent_create(name: str) -> tuple[Agent, str]:
    """Create an agent and return it with its token, which is never stored in clear."""
    agent = Agent(name=name)
    token = agent.set_new_token()
    agent.save()
    return agent, token


def agent_token_file(name: str, path: Path) -> bool:
    """Make sure agent `name` exists and its token is in `path` (owner-only).

    For the agent that `make run` starts beside the server: the token goes to a
    file it reads, never to the terminal. Returns True if a token was written;
    a lost file gets a new token, since the old one cannot be recovered.
    """
    if path.exists():
        return False
    agent = Agent.objects.filter(name=name).first()
    if agent is None:
        agent, token = agent_create(name)
    else:
        token = agent.set_new_token()
        agent.revoked_at = None
        agent.save(update_fields=["token_hash", "token_prefix", "revoked_at"])
    write_private(path, token)
    return True


def agent_revoke(agent: Agent) -> bool:
    """Stop the agent's token from being accepted; False if it was revoked already."""
    updated = Agent.objects.filter(pk=agent.pk, revoked_at__isnull=True).update(
        revoked_at=timezone.now()
    )
    return bool(updated)
