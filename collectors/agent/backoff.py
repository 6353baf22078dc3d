"""How long the agent waits before it tries again, whatever it retries: a batch post,
a profiling report, the spool while the server is away. One policy, exponential
backoff with jitter, so that a fleet that lost its server at once does not come
back in step."""

import random
from collections.abc import Callable
from typing import Protocol, TypeVar

MAX_EXPONENT = 32  # far past any cap; keeps 2**attempt small after a long outage


def backoff_s(attempt: int, base_s: float, cap_s: float = 300.0) -> float:
    """The wait before retry number `attempt` (1, 2, ...): a random point in the upper
    half of min(cap, base * 2**attempt). It grows with each retry and never drops to
    nothing, as full jitter can."""
    ceiling = min(cap_s, base_s * 2 ** min(attempt, MAX_EXPONENT))
    return random.uniform(ceiling / 2, ceiling)


def jittered(period_s: float) -> float:
    """A period give or take 20%: agents started together do not poll in step."""
    return period_s * random.uniform(0.8, 1.2)


class _Answer(Protocol):
    @property
    def retryable(self) -> bool: ...


AnswerT = TypeVar("AnswerT", bound=_Answer)


def with_retries(
    send: Callable[[], AnswerT],
    attempts: int,
    base_s: float,
    wait: Callable[[float], object],
    stopping: Callable[[], bool] = lambda: False,
) -> AnswerT:
    """send() up to `attempts` times, waiting backoff_s() between tries; the first answer
    not worth retrying (a success, a refusal) ends it, as does stopping(). `wait` is
    the agent's stop event's wait, so a stop cuts a wait short. Returns the last answer."""
    answer = send()
    for attempt in range(1, attempts):
        if not answer.retryable or stopping():
            break
        wait(backoff_s(attempt, base_s))
        answer = send()
    return answer
