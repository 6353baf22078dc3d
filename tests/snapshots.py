"""Rows a slow builder wrote, kept after its first run and written again, as they were,
for every later test that asks for the same data.

A day of the hand-checked fleet goes through the real ingest service and rollups: seconds
a test. `snapshot(key, build)` runs `build()` once per test process, reads back every row
it added (by primary key above what each table held before), and for later calls inserts
those rows raw, as `loaddata` does: same keys, same timestamps, no signals. The keys stay
free for them: PostgreSQL never hands out a sequence value twice, even after a rollback,
and SQLite numbers new rows above the largest key present.
"""

from collections.abc import Callable, Hashable
from typing import Any, TypeVar

from django.apps import apps
from django.core.serializers import sort_dependencies
from django.db import models, transaction

T = TypeVar("T")
_kept: dict[Hashable, tuple[list[tuple[type[models.Model], list[models.Model]]], Any]] = {}


def _tables() -> list[type[models.Model]]:
    app_models = [
        (config, list(config.get_models(include_auto_created=True)))
        for config in apps.get_app_configs()
    ]
    ordered = sort_dependencies(app_models, allow_cycles=True)
    seen = set(ordered)
    # Auto-created many-to-many tables come after the models they join.
    extra = [m for _, ms in app_models for m in ms if m not in seen]
    return [m for m in ordered + extra if not m._meta.proxy and m._meta.managed]


def _top(model: type[models.Model]) -> Any:
    return model._base_manager.order_by("-pk").values_list("pk", flat=True).first()


def snapshot(key: Hashable, build: Callable[[], T]) -> T:
    """`build()`'s rows and result: built the first time for `key`, copied after that."""
    if key in _kept:
        rows, result = _kept[key]
        # One transaction: foreign keys are checked at its end, whatever the table order.
        with transaction.atomic():
            for model, objs in rows:
                fields = list(model._meta.concrete_fields)
                for start in range(0, len(objs), 500):
                    model._base_manager._insert(objs[start : start + 500], fields=fields, raw=True)
        return result
    tables = [
        m for m in _tables() if isinstance(m._meta.pk, models.AutoField | models.BigAutoField)
    ]
    before = {model: _top(model) for model in tables}
    result = build()
    rows = []
    for model in tables:
        added = model._base_manager.all()
        if before[model] is not None:
            added = added.filter(pk__gt=before[model])
        objs = list(added.order_by("pk"))
        if objs:
            rows.append((model, objs))
    _kept[key] = (rows, result)
    return result
