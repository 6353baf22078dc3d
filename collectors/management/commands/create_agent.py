from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from collectors.models import Agent
from collectors.services import agent_create


class Command(BaseCommand):
    help = "Create an agent and print its ingest token (shown only this once)."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("name", help="a unique name, e.g. the node's hostname")

    def handle(self, *args: Any, name: str, **options: Any) -> None:
        name = name.strip()
        if not name or len(name) > 200:
            raise CommandError("The agent name must be 1 to 200 characters.")
        if Agent.objects.filter(name=name).exists():
            raise CommandError(f"An agent named {name!r} already exists.")
        agent, token = agent_create(name)
        self.stdout.write(f"Created agent {agent.name!r}. Its token, shown only this once:")
        self.stdout.write(token)
