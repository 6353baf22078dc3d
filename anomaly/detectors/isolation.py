"""IsolationForest over a feature vector: combinations that no single series shows.

Not a univariate `Detector` (it is not in the registry): it is trained per
group by `anomaly.training` and stored as a `DetectorModel` artefact.
"""

from collections.abc import Mapping, Sequence
from io import BytesIO
from typing import Any, NamedTuple, Self

import joblib
import numpy as np
from sklearn.ensemble import IsolationForest
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import RobustScaler

__all__ = ["FeatureLabel", "MultivariateDetector"]

TREES = 100
TREE_SAMPLES = 1024  # above the default 256: more contrast between tails and outliers
SEED = 0
# The training set's anomaly-ness at this quantile scores 1.0.
CALIBRATION_QUANTILE = 0.995
# "usual" in an explanation: this central range of the training values.
USUAL_RANGE = (0.05, 0.95)
EXPLAINED_FEATURES = 3
# A feature that barely varies in training (IQR ~ 0) is measured against this
# share of its median instead, so a tiny wobble does not read as a huge z.
MIN_RELATIVE_SPREAD = 0.05


class FeatureLabel(NamedTuple):
    label: str  # how a sentence names it
    unit: str
    factor: float = 1.0  # display value = stored value x factor (fractions shown as %)


def _number(value: float) -> str:
    size = abs(value)
    if size >= 100:
        return f"{value:,.0f}"
    if size >= 10:
        return f"{value:.0f}"
    if size >= 1:
        return f"{value:.1f}"
    return f"{value:.2g}"


def _with_unit(text: str, unit: str) -> str:
    if not unit:
        return text
    return f"{text}{unit}" if unit == "%" else f"{text} {unit}"


class MultivariateDetector:
    """A RobustScaler + IsolationForest pipeline, calibrated on its training set.

    `score` maps the forest's anomaly-ness linearly so that the training
    median scores 0 and its 99.5th percentile scores 1 (clipped at 0): about
    one training minute in 200 reaches 1. A point is anomalous at
    score >= 1 / sensitivity. Config: `trees` (default 100), `tree_samples`
    (rows per tree, default 1024), `seed` (default 0, for repeatable forests).
    """

    name = "isolation_forest"

    def __init__(
        self,
        sensitivity: float = 1.0,
        trees: int = TREES,
        tree_samples: int = TREE_SAMPLES,
        seed: int = SEED,
    ) -> None:
        if sensitivity <= 0:
            raise ValueError("sensitivity must be > 0")
        self.sensitivity = sensitivity
        self.trees, self.tree_samples, self.seed = trees, tree_samples, seed
        self.pipeline: Pipeline | None = None
        self.feature_names: list[str] = []
        self.median_raw = 0.0  # anomaly-ness of the training median
        self.calibration_raw = 1.0  # ... and of its CALIBRATION_QUANTILE
        self.usual: np.ndarray = np.empty((2, 0))  # USUAL_RANGE quantiles per feature
        self.center: np.ndarray = np.empty(0)  # training median per feature
        self.spread: np.ndarray = np.empty(0)  # robust sigma (IQR / 1.349) per feature

    @property
    def threshold(self) -> float:
        return 1.0 / self.sensitivity

    def fit(self, X: np.ndarray, feature_names: Sequence[str]) -> Self:
        """Train on rows of X (columns in `feature_names` order); needs at least 2 rows."""
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2 or X.shape[1] != len(feature_names) or len(X) < 2:
            raise ValueError("X must be 2-D, one column per feature name, at least 2 rows")
        if not np.isfinite(X).all():
            raise ValueError("X has NaN or infinite values")
        forest = IsolationForest(
            n_estimators=self.trees,
            max_samples=min(self.tree_samples, len(X)),
            random_state=self.seed,
        )
        self.pipeline = Pipeline([("scale", RobustScaler()), ("forest", forest)]).fit(X)
        self.feature_names = list(feature_names)
        raw = self._anomaly_ness(X)
        self.median_raw = float(np.median(raw))
        self.calibration_raw = float(np.quantile(raw, CALIBRATION_QUANTILE))
        self.usual = np.quantile(X, USUAL_RANGE, axis=0)
        q1, self.center, q3 = np.quantile(X, (0.25, 0.5, 0.75), axis=0)
        floor = np.maximum(MIN_RELATIVE_SPREAD * np.abs(self.center), 1e-9)
        self.spread = np.maximum((q3 - q1) / 1.349, floor)
        return self

    def _anomaly_ness(self, X: np.ndarray) -> np.ndarray:
        if self.pipeline is None:
            raise RuntimeError("the detector is not trained")
        # score_samples is higher for normal points; its negation is in (0, 1].
        return -np.asarray(self.pipeline.score_samples(X), dtype=np.float64)

    def score(self, X: np.ndarray) -> np.ndarray:
        """One score >= 0 per row: 1 at the training set's 99.5th percentile."""
        X = np.asarray(X, dtype=np.float64).reshape(-1, len(self.feature_names))
        if not len(X):
            return np.empty(0)
        # Guard a degenerate training set (every row alike) against division by 0.
        spread = max(self.calibration_raw - self.median_raw, 1e-6)
        return np.maximum((self._anomaly_ness(X) - self.median_raw) / spread, 0.0)

    def robust_z(self, x: np.ndarray) -> np.ndarray:
        """How far each feature of one row is from the training median, in robust sigmas."""
        return (np.asarray(x, dtype=np.float64).reshape(-1) - self.center) / self.spread

    def explain(self, x: np.ndarray, labels: Mapping[str, FeatureLabel] | None = None) -> str:
        """Up to EXPLAINED_FEATURES features of row x outside their usual range, furthest first.

        At least two are shown: an unusual combination can be of values each in range.

        e.g. "power 690 W (usual 300–420) with generated tokens/s 12 (usual 800–1,400)".
        """
        x = np.asarray(x, dtype=np.float64).reshape(-1)
        z = np.abs(self.robust_z(x))
        order = np.argsort(-z, kind="stable")
        outside = (x < self.usual[0]) | (x > self.usual[1])
        shown = [i for i in order if outside[i]][:EXPLAINED_FEATURES]
        if len(shown) < 2:
            # A combination needs two sides, even when one of them is in range.
            shown += [i for i in order[:2] if i not in shown][: 2 - len(shown)]
        parts = []
        for i in shown:
            name = self.feature_names[i]
            label = (labels or {}).get(name) or FeatureLabel(name, "")
            low, high = (float(q) * label.factor for q in self.usual[:, i])
            value = _with_unit(_number(float(x[i]) * label.factor), label.unit)
            parts.append(f"{label.label} {value} (usual {_number(low)}–{_number(high)})")
        return " with ".join(parts)

    def to_bytes(self) -> bytes:
        buffer = BytesIO()
        joblib.dump(self._state(), buffer, compress=3)
        return buffer.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes, sensitivity: float = 1.0) -> Self:
        """Load an artefact written by `to_bytes` (trusted: it comes from our own database)."""
        state = joblib.load(BytesIO(bytes(data)))
        detector = cls(sensitivity, state["trees"], state["tree_samples"], state["seed"])
        detector.pipeline = state["pipeline"]
        detector.feature_names = state["feature_names"]
        detector.median_raw = state["median_raw"]
        detector.calibration_raw = state["calibration_raw"]
        detector.usual = state["usual"]
        detector.center = state["center"]
        detector.spread = state["spread"]
        return detector

    def _state(self) -> dict[str, Any]:
        if self.pipeline is None:
            raise RuntimeError("the detector is not trained")
        return {
            "trees": self.trees,
            "tree_samples": self.tree_samples,
            "seed": self.seed,
            "pipeline": self.pipeline,
            "feature_names": self.feature_names,
            "median_raw": self.median_raw,
            "calibration_raw": self.calibration_raw,
            "usual": self.usual,
            "center": self.center,
            "spread": self.spread,
        }
