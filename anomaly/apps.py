from django.apps import AppConfig


class AnomalyConfig(AppConfig):
    name = "anomaly"
    verbose_name = "Anomaly detection"
    default_auto_field = "django.db.models.BigAutoField"
