from django.db import transaction

from collectors.models import Agent


@transaction.atomic
def agent_create(name: str) -> tuple[Agent, str]:
    """Create an agent and return it with its token, which is never stored in clear."""
    agent = Agent(name=name)
    token = agent.set_new_token()
    agent.save()
    return agent, token
