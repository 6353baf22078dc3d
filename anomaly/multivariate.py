"""Score minutes with the newest multivariate model of each group and record anomalies.

A minute counts as anomalous only inside a run of at least MIN_RUN consecutive
minutes at or above the threshold: by calibration about one normal minute in
200 scores 1 on its own, while a real fault lasts. When a run completes, its
earlier minutes are reported too (they are in the past, so nothing peeks
ahead); the window reads MIN_RUN minutes before `start`, so a run that
straddles two scoring windows is seen, and reported once.
"""

import logging
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime, timedelta

import numpy as np

from anomaly.choices import AnomalyKind
from anomaly.detectors import Found, Result
from anomaly.detectors.isolation import MultivariateDetector
from anomaly.features import FEATURE_LABELS, FeatureRow, feature_rows, matrix
from anomaly.models import DetectorModel, DetectorTuning
from anomaly.recording import record
from anomaly.training import DETECTOR, features_of

__all__ = ["MIN_RUN", "multivariate_results", "newest_models", "score_multivariate"]

logger = logging.getLogger(__name__)

MIN_RUN = 5  # minutes a combination must last to be reported
STEP = timedelta(minutes=1)
METRIC = {"gpu": "gpu.multivariate", "deployment": "deployment.multivariate"}


def newest_models() -> dict[str, MultivariateDetector]:
    """group -> its newest trained detector that still fits today's features.

    A model that cannot be loaded (a corrupt artefact, another scikit-learn) or
    was trained on other feature columns is skipped and logged: that group is
    scored by the univariate detectors alone until it is retrained.
    """
    newest: dict[str, tuple[int, int]] = {}
    for pk, group, version in DetectorModel.objects.filter(detector=DETECTOR).values_list(
        "pk", "group", "version"
    ):
        if group not in newest or version > newest[group][1]:
            newest[group] = (pk, version)
    artefacts = DetectorModel.objects.filter(pk__in=[pk for pk, _ in newest.values()])
    models = {}
    for group, artifact, features in artefacts.values_list("group", "artifact", "features"):
        if list(features) != list(features_of(group)):
            logger.warning("the %s model has other features than today's; skipped", group)
            continue
        try:
            models[group] = MultivariateDetector.from_bytes(artifact)
        except Exception:
            logger.exception("the %s model cannot be loaded; skipped", group)
    return models


def score_multivariate(start: datetime, end: datetime) -> int:
    """Score the minutes in [start, end) and record them; returns the points recorded."""
    return sum(record(*item) for item in multivariate_results(start, end))


def multivariate_results(start: datetime, end: datetime) -> list[Found]:
    """(metric, entity, anomalous results, step, detector) for the minutes in [start, end).

    Groups without a model (cold start) are skipped.
    """
    models = newest_models()
    if not models:
        return []
    by_entity: dict[str, list[FeatureRow]] = defaultdict(list)
    for row in feature_rows(start - STEP * MIN_RUN, end):
        if row.group in models:
            by_entity[row.entity].append(row)
    tuning = DetectorTuning.sensitivities(METRIC.values())
    # One forest call per group, not per entity: each call has a fixed cost too.
    by_group: dict[str, list[list[FeatureRow]]] = defaultdict(list)
    for rows in by_entity.values():
        rows.sort(key=lambda row: row.ts)
        by_group[rows[0].group].append(rows)
    found = []
    for group, entities in sorted(by_group.items()):
        detector = models[group]
        try:
            scores = detector.score(matrix([row for rows in entities for row in rows])).tolist()
        except Exception:
            logger.exception("scoring the %s group failed; skipped", group)
            continue
        offset = 0
        for rows in entities:
            entity = rows[0].entity
            metric = METRIC[entity.partition(":")[0]]
            detector.sensitivity = tuning.get((metric, entity), 1.0)
            own = scores[offset : offset + len(rows)]
            offset += len(rows)
            results = _results(detector, rows, own, start)
            if results:
                found.append((metric, entity, results, STEP, DETECTOR))
    return found


def _results(
    detector: MultivariateDetector, rows: Sequence[FeatureRow], scores: list[float], start: datetime
) -> list[Result]:
    """The anomalous results of one entity's time-ordered rows (`record` skips the rest)."""
    flagged = _in_runs([s >= detector.threshold for s in scores], [r.ts for r in rows], start)
    return [
        Result(
            row.ts,
            score,
            score,
            True,
            None,
            None,
            AnomalyKind.MULTIVARIATE.value,
            detector.explain(np.array(row.vector), FEATURE_LABELS),
        )
        for row, score, is_anomaly in zip(rows, scores, flagged, strict=True)
        if is_anomaly
    ]


def _in_runs(above: list[bool], stamps: list[datetime], start: datetime) -> list[bool]:
    """Mark runs of >= MIN_RUN consecutive minutes above the threshold.

    The part of a run before `start` is left out when it was already MIN_RUN
    long there: the previous window reported it.
    """
    flagged = [False] * len(above)
    i = 0
    while i < len(above):
        if not above[i]:
            i += 1
            continue
        j = i
        while j + 1 < len(above) and above[j + 1] and stamps[j + 1] - stamps[j] == STEP:
            j += 1
        if j - i + 1 >= MIN_RUN:
            before = sum(1 for k in range(i, j + 1) if stamps[k] < start)
            for k in range(i, j + 1):
                flagged[k] = stamps[k] >= start or before < MIN_RUN
        i = j + 1
    return flagged
