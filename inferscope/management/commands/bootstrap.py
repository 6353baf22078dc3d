import secrets
from argparse import ArgumentParser
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

from collectors.services import agent_token_file
from inferscope.lib.paths import FIRST_LOGIN_FILE, write_private

LOCAL_AGENT = "local-agent"
FIRST_LOGIN = "admin"


def _forget_a_changed_password(path: Path) -> None:
    """Delete the first password's file once it no longer logs in: it was changed."""
    try:
        lines = dict(line.split(": ", 1) for line in path.read_text().splitlines() if ": " in line)
    except OSError:
        return
    user = get_user_model().objects.filter(username=lines.get("login", "")).first()
    if user is None or not user.check_password(lines.get("password", "")):
        path.unlink(missing_ok=True)


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
        first_login = settings.DATA_DIR / FIRST_LOGIN_FILE
        if not User.objects.exists():
            password = secrets.token_urlsafe(12)
            User.objects.create_superuser(FIRST_LOGIN, "", password)
            write_private(first_login, f"login: {FIRST_LOGIN}\npassword: {password}\n")
            self.stdout.write(
                f"Created the login '{FIRST_LOGIN}'. Its password, shown only this once:"
            )
            self.stdout.write(f"    {password}")
            self.stdout.write(f"It is also in {first_login} until it is changed.")
        else:
            self.stdout.write("Logins exist already; none created.")
            _forget_a_changed_password(first_login)
        if local_agent:
            path = settings.DATA_DIR / "agent-token"
            if agent_token_file(LOCAL_AGENT, path):
                self.stdout.write(f"The local agent's token is in {path}.")
