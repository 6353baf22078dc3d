from django.db import models


class PricingKind(models.TextChoices):
    ON_DEMAND = "on_demand", "On-demand"
    SPOT = "spot", "Spot"
    RESERVED = "reserved", "Reserved / committed"


class NodePricingKind(models.TextChoices):
    ON_DEMAND = "on_demand", "Price book: on-demand"
    SPOT = "spot", "Price book: spot"
    RESERVED = "reserved", "Price book: reserved / committed"
    CUSTOM = "custom", "Fixed $ per GPU-hour"
    ON_PREM = "on_prem", "On-premises: amortized purchase + measured power"
