class DeliveryError(Exception):
    """A send that failed. `permanent`: retrying cannot help (a revoked Slack URL,
    a refused address), so the channel is disabled instead."""

    def __init__(self, message: str, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


class UnsendableMessage(DeliveryError):
    """This message cannot be built for this channel (a name that no header can
    hold, say): it fails once, with the reason, and the channel stays enabled."""
