import csv
import io
import json
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command

from costs.report import COLUMNS
from costs.rollups import rollup_pending
from tests.costs.fleet import DAY, set_prices, store_day

pytestmark = pytest.mark.django_db


@pytest.fixture
def day() -> None:
    store_day()
    set_prices()
    rollup_pending(now=DAY + timedelta(days=1, hours=1))


def report(*args: str) -> str:
    out = io.StringIO()
    call_command("cost_report", "--start", "2026-11-01", "--end", "2026-12-01", *args, stdout=out)
    return out.getvalue()


def test_it_writes_a_csv_row_per_deployment_the_idle_row_and_a_total(day: None) -> None:
    rows = list(csv.DictReader(io.StringIO(report("--by", "deployment"))))
    assert tuple(rows[0]) == COLUMNS
    by_group = {r["group"]: r for r in rows}
    assert [r["group"] for r in rows][-2:] == ["(idle)", "total"]
    assert by_group["chat on node-a"]["cost_usd"] == "48.00"
    assert by_group["chat on node-a"]["requests"] == "14400"
    assert by_group["chat on node-a"]["gpu_hours"] == "24"
    assert by_group["embed on node-a"]["idle_usd"] == "12.00"
    assert by_group["total"]["cost_usd"] == "120.36"


def test_it_groups_by_a_label_as_json(day: None) -> None:
    body = json.loads(report("--by", "label:team", "--format", "json"))
    assert body["by"] == "label:team"
    costs = {r["group"]: r["cost_usd"] for r in body["rows"]}
    assert costs == {"search": "60.00", "ml": "24.00", "(idle)": "36.36", "total": "120.36"}


def test_it_groups_by_gpu(day: None) -> None:
    rows = list(csv.DictReader(io.StringIO(report("--by", "gpu"))))
    assert len(rows) == 4  # three GPUs and the total
    assert rows[-1]["cost_usd"] == "120.36"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--by", "team"), "'by' must be one of"),
        (("--by", "label:"), "'by' must be one of"),
    ],
)
def test_bad_arguments_are_one_plain_line(day: None, args: tuple[str, ...], message: str) -> None:
    with pytest.raises(CommandError, match=message):
        report(*args)


def test_a_bad_date_is_one_plain_line(db: None) -> None:
    with pytest.raises(CommandError, match="not a date"):
        call_command("cost_report", "--start", "November", "--end", "2026-12-01")
    with pytest.raises(CommandError, match="end must be after"):
        call_command("cost_report", "--start", "2026-12-01", "--end", "2026-11-01")


def test_an_empty_period_has_only_a_zero_total(db: None) -> None:
    rows = list(csv.DictReader(io.StringIO(report())))
    assert [(r["group"], r["cost_usd"]) for r in rows] == [("total", "0.00")]
