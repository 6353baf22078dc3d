from django.db import models


class AnomalyKind(models.TextChoices):
    SPIKE = "spike", "Spike"
    DIP = "dip", "Dip"
    LEVEL_SHIFT = "level_shift", "Level shift"
    DRIFT = "drift", "Drift"
    STUCK = "stuck", "Stuck at a constant value"
    MISSING = "missing", "Missing data"
    MULTIVARIATE = "multivariate", "Unusual combination"


class Severity(models.TextChoices):
    INFO = "info", "Info"
    WARNING = "warning", "Warning"
    CRITICAL = "critical", "Critical"


class AnomalyStatus(models.TextChoices):
    OPEN = "open", "Open"
    ACKNOWLEDGED = "acknowledged", "Acknowledged"
    RESOLVED = "resolved", "Resolved"
    FALSE_POSITIVE = "false_positive", "False positive"
