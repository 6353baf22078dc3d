"""The range and label filter a page was asked for, as every page selector takes it."""

from dataclasses import dataclass, fields
from typing import Any

from costs.spend import Scope
from inferscope.lib.timerange import TimeRange


@dataclass(frozen=True)
class PageRange:
    tr: TimeRange
    errors: dict[str, str]
    deployment_ids: list[int] | None  # None: no label filter
    gpu_ids: list[int] | None

    @property
    def cost_scope(self) -> Scope:
        return Scope(self.deployment_ids, self.gpu_ids)


def context_of(page: Any) -> dict[str, Any]:
    """A page dataclass's fields as template context: the templates name figures directly."""
    return {f.name: getattr(page, f.name) for f in fields(page)}
