"""Alerts: rules evaluated every few seconds, grouped per rule and entity, delivered
by email, Slack and signed webhooks with every attempt logged."""
