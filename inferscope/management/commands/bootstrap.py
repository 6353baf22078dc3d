import secrets
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Create the first login (printing its password once) and, if enabled, the simulator."

    def handle(self, *args: Any, **options: Any) -> None:
        User = get_user_model()
        if not User.objects.exists():
            password = secrets.token_urlsafe(12)
            User.objects.create_superuser("admin", "", password)
            self.stdout.write("Created the login 'admin'. Its password, shown only this once:")
            self.stdout.write(f"    {password}")
        else:
            self.stdout.write("Logins exist already; none created.")
        if settings.INFERSCOPE_SIMULATE:
            from collectors.simulate import simulator_agent

            simulator_agent()
            self.stdout.write("Simulated fleet enabled (INFERSCOPE_SIMULATE=1).")
