from django.db import models


class Resolution(models.IntegerChoices):
    MINUTE = 60, "1 minute"
    HOUR = 3600, "1 hour"
    DAY = 86400, "1 day"
