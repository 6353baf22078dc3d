"""What every channel transport promises: send one message, or say why it could not."""

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar

from alerts.errors import DeliveryError

__all__ = ["DeliveryError", "Message", "Transport", "raise_for_status"]


@dataclass(frozen=True)
class Message:
    """One notification, channel-neutral."""

    kind: str  # firing, reminder, resolved or test
    title: str
    text: str  # one or two sentences
    severity: str  # critical, warning, info, resolved
    link: str  # absolute URL of the page to look at
    fields: list[tuple[str, str]] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)  # the webhook's JSON body


class Transport(ABC):
    kind: ClassVar[str]

    def __init__(self, channel: Any) -> None:
        self.channel = channel

    @abstractmethod
    def send(self, message: Message) -> None:
        """Deliver `message` or raise DeliveryError."""


def raise_for_status(status: int, text: str, permanent: tuple[int, ...]) -> None:
    if 200 <= status < 300:
        return
    raise DeliveryError(f"HTTP {status}: {text.strip()[:200]}", permanent=status in permanent)
