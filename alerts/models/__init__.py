from alerts.models.alerts import Alert, AlertEvent
from alerts.models.channels import Channel, Delivery, DeliveryAttempt
from alerts.models.rules import Rule, Silence

__all__ = ["Alert", "AlertEvent", "Channel", "Delivery", "DeliveryAttempt", "Rule", "Silence"]
