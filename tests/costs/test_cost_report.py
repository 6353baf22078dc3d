import csv
import io
import json
from datetime import timedelta

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command

from costs.economics.selectors import deployment_economics
from costs.pipeline import rollup_pending
from costs.report import COLUMNS, report_rows
from tests.costs.fleet import DAY, set_prices, store_day
from tests.economics.fleet import END, H
from tests.economics.fleet import store as economics_store

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


def test_it_splits_the_bill_three_ways_and_prices_tokens_by_phase_time(db: None) -> None:
    """tests/economics/fleet.py's two hours, figures as its hand-checked tests give them."""
    economics_store()
    out = io.StringIO()
    call_command("cost_report", "--start", "2026-11-03", "--end", "2026-11-04", stdout=out)
    rows = {r["group"]: r for r in csv.DictReader(io.StringIO(out.getvalue()))}
    chat, embed, idle, total = (
        rows[k] for k in ("chat on node-e", "embed on node-e", "(idle)", "total")
    )
    assert (chat["active_usd"], chat["idle_held_usd"], chat["truly_idle_usd"]) == (
        "1.50",
        "2.50",
        "0.00",
    )
    assert (chat["active_hours"], chat["idle_held_hours"]) == ("0.75", "1.25")
    assert (idle["truly_idle_usd"], idle["truly_idle_hours"]) == ("4.00", "2")
    assert (total["active_usd"], total["idle_held_usd"], total["truly_idle_usd"]) == (
        "5.50",
        "2.50",
        "4.00",
    )
    # chat's $4.00 is 40% prefill by its measured phase times: $1.60 over 45,000 prompt
    # tokens, $2.40 over 22,500 generated ones.
    assert chat["phase_basis"] == "request"
    assert float(chat["usd_per_1m_prompt_tokens"]) == pytest.approx(35.5556, abs=1e-4)
    assert float(chat["usd_per_1m_generated_tokens"]) == pytest.approx(106.6667, abs=1e-4)
    # embed ran prefill batches only.
    assert embed["phase_basis"] == "forward"
    assert float(embed["usd_per_1m_prompt_tokens"]) == pytest.approx(16.6667, abs=1e-4)
    assert embed["usd_per_1m_generated_tokens"] == ""
    assert idle["phase_basis"] == "" and idle["usd_per_1m_prompt_tokens"] == ""
    # The fleet's $12.00 split as its deployments' $8.00 was: (1.60 + 4.00) / 8 = 70% prefill.
    assert float(total["usd_per_1m_prompt_tokens"]) == pytest.approx(12 * 0.7 / 285_000 * 1e6)
    assert float(total["usd_per_1m_generated_tokens"]) == pytest.approx(12 * 0.3 / 22_500 * 1e6)


@pytest.mark.parametrize(
    ("by", "group", "prompt", "basis"),
    [
        ("label:team", "a", 1.60 / 45_000 * 1e6, "request"),
        ("label:team", "b", 4.00 / 240_000 * 1e6, "forward"),
        # A node's truly idle $4.00 is split as its deployments' time was, as the total's;
        # vLLM's request times and TGI's batch times make it "mixed".
        ("node", "node-e", 12 * 0.7 / 285_000 * 1e6, "mixed"),
        # A GPU's row holds parts of deployments: the token weighting.
        ("gpu", "node-e #0 NVIDIA H100 80GB HBM3 (e0)", None, "model"),
    ],
)
def test_groups_of_whole_deployments_are_priced_by_phase_time(
    db: None, by: str, group: str, prompt: float | None, basis: str
) -> None:
    economics_store()
    out = io.StringIO()
    call_command(
        "cost_report", "--start", "2026-11-03", "--end", "2026-11-04", "--by", by, stdout=out
    )
    row = {r["group"]: r for r in csv.DictReader(io.StringIO(out.getvalue()))}[group]
    assert row["phase_basis"] == basis
    if prompt is not None:
        assert float(row["usd_per_1m_prompt_tokens"]) == pytest.approx(prompt, abs=1e-4)
    else:
        # $4.00 over 45,000 prompt + 4 x 22,500 generated token-weights, per 1M prompt.
        weighted = 45_000 + settings.COST_DECODE_TOKEN_WEIGHT * 22_500
        assert float(row["usd_per_1m_prompt_tokens"]) == pytest.approx(
            4.00 / weighted * 1e6, abs=1e-4
        )


def test_a_caller_with_the_figures_gets_the_same_rows_without_reading_them_again(
    db: None, django_assert_num_queries
) -> None:
    economics_store()
    figures = deployment_economics(H, END)
    rows = report_rows(H, END, "label:team")
    # cost_by's four queries (shares, volumes, deployments, GPUs) and the labels; no economics.
    with django_assert_num_queries(5):
        assert report_rows(H, END, "label:team", figures) == rows
