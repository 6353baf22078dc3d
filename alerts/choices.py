from django.db import models


class ChannelKind(models.TextChoices):
    EMAIL = "email", "Email"
    SLACK = "slack", "Slack"
    WEBHOOK = "webhook", "Webhook"


class RuleKind(models.TextChoices):
    THRESHOLD = "threshold", "Threshold on a metric"
    ANOMALY = "anomaly", "Anomaly at or above a severity"
    BUDGET = "budget", "Budget"
    SILENCE = "silence", "No data"
    GPU_HEALTH = "gpu_health", "GPU health"
    GOODPUT = "goodput", "Goodput below a share"
    HEADROOM = "headroom", "Capacity headroom below a share"
    IDLE_HELD = "idle_held", "Idle-held spend above $ a day"


class Comparison(models.TextChoices):
    ABOVE = ">", "above"
    AT_LEAST = ">=", "at or above"
    BELOW = "<", "below"
    AT_MOST = "<=", "at or below"


class BudgetCondition(models.TextChoices):
    FORECAST = "forecast", "Month-end forecast over the budget"
    SPENT = "spent", "Spend so far over a share of the budget"


class HealthCondition(models.TextChoices):
    THROTTLING = "throttling", "Thermal or power throttling"
    ECC = "ecc", "New uncorrected ECC errors"
    GONE = "gone", "GPU gone from NVML"


class HeadroomCondition(models.TextChoices):
    CURRENT = "current", "At the current load (the last hour)"
    PEAK = "peak", "At the busiest hour of the last day"


class AlertState(models.TextChoices):
    PENDING = "pending", "Pending (breaking, not yet for long enough)"
    FIRING = "firing", "Firing"
    RESOLVED = "resolved", "Resolved"


class EventKind(models.TextChoices):
    FIRING = "firing", "Firing"
    REMINDER = "reminder", "Reminder"
    RESOLVED = "resolved", "Resolved"


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"
