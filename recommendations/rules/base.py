"""The contract every rule keeps: evaluate() reads the measured data and returns findings."""

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from recommendations.choices import Confidence
from recommendations.constants import WINDOW_DAYS


@dataclass(frozen=True)
class Context:
    """What every rule looks at: the window of whole hours ending at `end`."""

    end: datetime
    days: int = WINDOW_DAYS

    @property
    def start(self) -> datetime:
        return self.end - timedelta(days=self.days)


@dataclass(frozen=True)
class Finding:
    """One recommendation as a rule states it; `key` names its entity within the rule."""

    key: str
    title: str
    action: str
    monthly_saving_usd: Decimal
    arithmetic: str
    confidence: Confidence
    evidence: dict[str, Any] = field(default_factory=dict)
    gpu_id: int | None = None
    deployment_id: int | None = None
    node_id: int | None = None


class Rule(ABC):
    """A rule is silent on a healthy fleet: it returns a finding only where acting on
    it saves money (or, for capacity, where not acting breaks an SLO)."""

    name: str = ""

    @abstractmethod
    def evaluate(self, ctx: Context) -> list[Finding]:
        """Findings for the window ending at ctx.end; never raises for missing data."""
