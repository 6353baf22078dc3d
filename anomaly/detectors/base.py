"""What every detector promises: results for points in time order, never peeking ahead.

A univariate detector reads one series (timestamps and values, None where data
is missing). `detect_batch` scores a whole series as if each point had arrived
live: the result for point i depends only on points 0..i. The scoring job calls
`detect` with the history it keeps and the new points.
"""

from abc import ABC, abstractmethod
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, ClassVar, NamedTuple


# NamedTuples, not dataclasses: the scoring job makes about a million per run,
# and a tuple is several times cheaper to create.
class Point(NamedTuple):
    ts: datetime
    value: float | None  # None: the series had no data at ts


class Result(NamedTuple):
    ts: datetime
    value: float | None
    score: float  # 0 = as expected; >= 1 = anomalous at sensitivity 1
    is_anomaly: bool
    expected_low: float | None
    expected_high: float | None
    kind: str  # one of anomaly.choices.AnomalyKind values, "" when normal
    explanation: str  # one sentence, empty when normal


# One series' anomalous results as the scoring job records them:
# (metric, entity key, results, step between points, detector name).
Found = tuple[str, str, list[Result], timedelta, str]


class Detector(ABC):
    """Base of univariate detectors; subclasses register with @register.

    `sensitivity` scales the threshold: 1 is the default, below 1 flags less
    (marking false positives lowers it for one entity and metric).
    """

    name: ClassVar[str]

    def __init__(self, sensitivity: float = 1.0, **config: Any) -> None:
        self.sensitivity = sensitivity
        self.config = config

    @abstractmethod
    def detect_batch(self, points: Sequence[Point]) -> list[Result]:
        """One result per point, each from that point and the ones before it only."""

    def detect(self, history: Sequence[Point], new: Sequence[Point]) -> list[Result]:
        """Results for `new`, with `history` (older points) as context."""
        return self.detect_batch([*history, *new])[len(history) :]
