"""The detector registry: name -> class, and the factory that builds one from a config dict.

Each detector module registers itself with `@register`; importing this package
imports them all, so `DETECTORS` is complete once `anomaly.detectors` is loaded.
"""

from typing import Any, TypeVar

from anomaly.detectors.base import Detector, Found, Point, Result

__all__ = ["DETECTORS", "Detector", "Found", "Point", "Result", "build", "register"]

DETECTORS: dict[str, type[Detector]] = {}

D = TypeVar("D", bound=type[Detector])


def register(cls: D) -> D:
    """Class decorator: make `cls` buildable by its `name`."""
    if cls.name in DETECTORS and DETECTORS[cls.name] is not cls:
        raise ValueError(f"two detectors are named {cls.name!r}")
    DETECTORS[cls.name] = cls
    return cls


def build(config: dict[str, Any]) -> Detector:
    """Build a detector from {"name": ..., "sensitivity": ..., other config keys}."""
    options = dict(config)
    name = options.pop("name", None)
    if name not in DETECTORS:
        known = ", ".join(sorted(DETECTORS))
        raise ValueError(f"unknown detector {name!r}; known detectors: {known}")
    return DETECTORS[name](**options)


# Imported last: these modules import `register` from this package.
from anomaly.detectors import seasonal, zscore  # noqa: E402, F401
