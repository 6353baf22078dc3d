from django.db import models


class RecommendationStatus(models.TextChoices):
    OPEN = "open", "Open"
    DISMISSED = "dismissed", "Dismissed"
    SNOOZED = "snoozed", "Snoozed"
    DONE = "done", "Done"
    # Closed by the job: the rule no longer holds.
    CLOSED = "closed", "No longer holds"


class Confidence(models.TextChoices):
    LOW = "low", "Low"
    MEDIUM = "medium", "Medium"
    HIGH = "high", "High"
