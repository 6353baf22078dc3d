from django.db import transaction

from collectors.models import Agent


@transaction.atomic
def agent_create(name: str) -> tuple[Agent, str]:
    """Create an agent and return it with its token, which is never stored in clear."""
    agent = Agent(name=name)
    token = agent.set_new_token()
    agent.save()
    return agent, token


def agent_rotate_token(agent: Agent) -> str:
    token = agent.set_new_token()
    agent.revoked_at = None
    agent.save(update_fields=["token_hash", "token_prefix", "revoked_at"])
    return token
