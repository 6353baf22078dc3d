import secrets
from argparse import ArgumentParser
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

from collectors.services import agent_token_file

LOCAL_AGENT = "local-agent"


class Command(BaseCommand):
    help = "Create the first login (printing its password once) and the local agent's token."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument(
            "--local-agent",
            action="store_true",
            help="also make the token of the agent `inferscope run` starts beside the server",
        )

    def handle(self, *args: Any, local_agent: bool, **options: Any) -> None:
        User = get_user_model()
        if not User.objects.exists():
            password = secrets.token_urlsafe(12)
            User.objects.create_superuser("admin", "", password)
            self.stdout.write("Created the login 'admin'. Its password, shown only this once:")
            self.stdout.write(f"    {password}")
        else:
            self.stdout.write("Logins exist already; none created.")
        if local_agent:
            path = settings.DATA_DIR / "agent-token"
            if agent_token_file(LOCAL_AGENT, path):
                self.stdout.write(f"The local agent's token is in {path}.")
