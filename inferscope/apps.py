from django.apps import AppConfig


class InferscopeConfig(AppConfig):
    name = "inferscope"
    verbose_name = "Inferscope"

    def ready(self) -> None:
        from inferscope import checks  # noqa: F401  (registers the system checks)
        from inferscope.lib import tasklog  # noqa: F401  (logs what periodic tasks did)
