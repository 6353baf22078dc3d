"""Load the shipped GPU price table (costs/data/gpu_prices.csv) into the price book."""

import csv
from datetime import date
from decimal import Decimal
from pathlib import Path

from django.db import migrations

PRICES = Path(__file__).resolve().parent.parent / "data" / "gpu_prices.csv"


def load(apps, schema_editor):  # type: ignore[no-untyped-def]
    entry = apps.get_model("costs", "PriceBookEntry")
    with PRICES.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    entry.objects.bulk_create(
        [
            entry(
                gpu_model=row["gpu_model"],
                kind=row["kind"],
                usd_per_gpu_hour=Decimal(row["usd_per_gpu_hour"]),
                valid_from=date.fromisoformat(row["valid_from"]),
                source=row["source"],
            )
            for row in rows
        ],
        ignore_conflicts=True,
    )


class Migration(migrations.Migration):
    dependencies = [("costs", "0001_initial")]

    operations = [migrations.RunPython(load, migrations.RunPython.noop)]
