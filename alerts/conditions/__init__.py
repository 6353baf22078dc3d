"""Rule kind -> the function that finds what breaks it now: {entity key: Breach}.

Each function reads the database for every entity at once; the evaluation
keeps the ones in the rule's scope. `reads` is one evaluation's memo: rules
that watch the same metric or budgets read them once.
"""

from collections.abc import Callable
from datetime import datetime
from typing import Any

from alerts.choices import RuleKind
from alerts.conditions.base import Breach
from alerts.conditions.budget import budget_breaches
from alerts.conditions.economics import goodput_breaches, headroom_breaches, idle_held_breaches
from alerts.conditions.health import health_breaches
from alerts.conditions.signals import anomaly_breaches, silence_breaches, threshold_breaches
from alerts.models import Rule

Reads = dict[Any, Any]
CONDITIONS: dict[str, Callable[[Rule, datetime, Reads], dict[str, Breach]]] = {
    RuleKind.THRESHOLD: threshold_breaches,
    RuleKind.ANOMALY: anomaly_breaches,
    RuleKind.BUDGET: budget_breaches,
    RuleKind.SILENCE: silence_breaches,
    RuleKind.GPU_HEALTH: health_breaches,
    RuleKind.GOODPUT: goodput_breaches,
    RuleKind.HEADROOM: headroom_breaches,
    RuleKind.IDLE_HELD: idle_held_breaches,
}

__all__ = ["CONDITIONS", "Breach", "Reads"]
