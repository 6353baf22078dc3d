from django.apps import AppConfig


class EconomicsConfig(AppConfig):
    name = "economics"
    verbose_name = "LLM economics"
    default_auto_field = "django.db.models.BigAutoField"
