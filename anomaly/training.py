"""Train the multivariate detectors: one model per GPU model and per deployment, versioned.

Each run fits a fresh model per group on the last TRAINING_WINDOW of minute
features and stores it as the next `DetectorModel` version, keeping the newest
KEEP_VERSIONS. A group with under MIN_HISTORY of data is in cold start: no
model is trained, so it has no multivariate score yet, and the univariate
seasonal detector (whose own cold-start rule is the rolling z-score) covers its
series until a later run finds a day of data.
"""

import logging
from collections import defaultdict
from datetime import UTC, datetime, timedelta

import numpy as np
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from anomaly.detectors.isolation import MultivariateDetector
from anomaly.features import (
    DEPLOYMENT_FEATURES,
    GPU_FEATURES,
    FeatureRow,
    feature_rows,
    matrix,
)
from anomaly.models import DetectorModel

__all__ = ["DETECTOR", "train_group", "train_models"]

logger = logging.getLogger(__name__)

DETECTOR = MultivariateDetector.name
TRAINING_WINDOW = timedelta(days=7)
MIN_HISTORY = timedelta(days=1)
# Rows a model is fitted on, at most: a random sample beyond that. The forest
# only looks at TREE_SAMPLES rows per tree, so more rows add time, not accuracy.
MAX_TRAINING_ROWS = 20_000
KEEP_VERSIONS = 3
STEP = timedelta(minutes=1)
SAMPLE_SEED = 0


def features_of(group: str) -> tuple[str, ...]:
    return GPU_FEATURES if group.startswith("gpu-model:") else DEPLOYMENT_FEATURES


def train_models(now: datetime | None = None) -> int:
    """Train every group with enough history; returns the number of models stored."""
    end = (now or timezone.now()).astimezone(UTC).replace(second=0, microsecond=0)
    start = end - TRAINING_WINDOW
    groups: dict[str, list[FeatureRow]] = defaultdict(list)
    for row in feature_rows(start, end):
        groups[row.group].append(row)
    trained = 0
    for group, rows in sorted(groups.items()):
        # The database returns rows in no set order; the forest, seeded, is only
        # repeatable when it sees them in one.
        rows.sort(key=lambda row: (row.entity, row.ts))
        if train_group(group, rows) is not None:
            trained += 1
    return trained


def train_group(group: str, rows: list[FeatureRow]) -> DetectorModel | None:
    """Fit and store the next version for one group, or None in cold start."""
    first = min(row.ts for row in rows)
    last = max(row.ts for row in rows)
    if last + STEP - first < MIN_HISTORY:
        logger.info(
            "%s: %s of data, under %s: cold start, no multivariate model"
            " (the seasonal detector's z-score fallback covers it)",
            group,
            last + STEP - first,
            MIN_HISTORY,
        )
        return None
    if len(rows) > MAX_TRAINING_ROWS:
        rng = np.random.default_rng(SAMPLE_SEED)
        keep = np.sort(rng.choice(len(rows), MAX_TRAINING_ROWS, replace=False))
        rows = [rows[i] for i in keep]
    names = features_of(group)
    detector = MultivariateDetector().fit(matrix(rows), names)
    artifact = detector.to_bytes()
    with transaction.atomic():
        latest = DetectorModel.objects.filter(detector=DETECTOR, group=group).aggregate(
            v=Max("version")
        )["v"]
        model = DetectorModel.objects.create(
            detector=DETECTOR,
            group=group,
            version=(latest or 0) + 1,
            window_start=first,
            window_end=last + STEP,
            samples=len(rows),
            features=list(names),
            artifact=artifact,
        )
        DetectorModel.objects.filter(
            detector=DETECTOR, group=group, version__lte=model.version - KEEP_VERSIONS
        ).delete()
    return model
