"""Serve plotly.js from the installed plotly package, so the dashboard needs no CDN.

Only the one bundle is exposed (as static/plotly/plotly.min.js), not the package's
sample data sets and widget files.
"""

from pathlib import Path
from typing import Any

import plotly
from django.contrib.staticfiles.finders import BaseFinder
from django.core.files.storage import FileSystemStorage

BUNDLE = "plotly.min.js"
PREFIX = "plotly"


class PlotlyFinder(BaseFinder):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.root = Path(plotly.__file__).resolve().parent / "package_data"
        self.storage = FileSystemStorage(location=str(self.root))
        self.storage.prefix = PREFIX  # type: ignore[attr-defined]

    def find(self, path: str, find_all: bool = False, **kwargs: Any) -> Any:
        if path != f"{PREFIX}/{BUNDLE}":
            return [] if find_all else None
        found = str(self.root / BUNDLE)
        return [found] if find_all else found

    def check(self, **kwargs: Any) -> list[Any]:
        return []

    def list(self, ignore_patterns: Any) -> Any:
        yield BUNDLE, self.storage
