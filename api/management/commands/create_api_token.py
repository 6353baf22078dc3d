from argparse import ArgumentParser
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from api.choices import TokenScope
from api.services import TokenError, api_token_create


class Command(BaseCommand):
    help = "Create a personal API token for USERNAME and print it once (it is stored hashed)."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("username")
        parser.add_argument("--scope", choices=TokenScope.values, default=TokenScope.READ)
        parser.add_argument("--name", default="command line")

    def handle(self, *args: Any, username: str, scope: str, name: str, **options: Any) -> None:
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"No user named {username!r}.")
        try:
            _, token = api_token_create(user, name, scope)
        except TokenError as exc:
            raise CommandError(str(exc)) from None
        # The token alone on stdout, so `TOKEN=$(… create_api_token alice)` works.
        self.stdout.write(token)
        self.stderr.write(f"{scope} token for {username}; it is not shown again.")
