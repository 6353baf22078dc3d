"""The window every rule looks at. It lives outside rules/ so that the inputs the
rules gather can import it without loading the rule registry."""

from dataclasses import dataclass
from datetime import datetime, timedelta

from recommendations.constants import WINDOW_DAYS


@dataclass(frozen=True)
class Context:
    """What every rule looks at: the window of whole hours ending at `end`."""

    end: datetime
    days: int = WINDOW_DAYS

    @property
    def start(self) -> datetime:
        return self.end - timedelta(days=self.days)
