from collections import Counter
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from costs.gpu_models import CANONICAL_MODELS, PRICE_KINDS, canonical_model, load_default_prices

HEADER = "gpu_model,kind,usd_per_gpu_hour,valid_from,source\n"


@pytest.mark.parametrize(
    ("reported", "expected"),
    [
        ("NVIDIA H200", "H200"),
        ("NVIDIA H200 NVL", "H200"),
        ("NVIDIA H100 80GB HBM3", "H100 SXM"),
        ("NVIDIA H100 SXM5 80GB", "H100 SXM"),
        ("NVIDIA H100 PCIe", "H100 PCIe"),
        ("NVIDIA H100 NVL", "H100 NVL"),
        ("NVIDIA A100-SXM4-80GB", "A100 80GB"),
        ("NVIDIA A100 80GB PCIe", "A100 80GB"),
        ("NVIDIA A100-PCIE-80GB", "A100 80GB"),
        ("NVIDIA A100-SXM4-40GB", "A100 40GB"),
        ("NVIDIA A100-PCIE-40GB", "A100 40GB"),
        ("NVIDIA L40S", "L40S"),
        ("NVIDIA L4", "L4"),
        ("NVIDIA A10G", "A10G"),
        ("NVIDIA A10", "A10"),
        ("Tesla T4", "T4"),
        ("Tesla V100-SXM2-16GB", "V100"),
        ("Tesla V100-PCIE-32GB", "V100"),
        ("AMD Instinct MI300X", "MI300X"),
    ],
)
def test_it_maps_reported_names_to_canonical_models(reported, expected):
    assert canonical_model(reported) == expected


@pytest.mark.parametrize("name", CANONICAL_MODELS)
def test_a_canonical_name_maps_to_itself(name):
    assert canonical_model(name) == name


def test_it_ignores_case_and_underscores():
    assert canonical_model("nvidia h100 pcie") == "H100 PCIe"
    assert canonical_model("NVIDIA_H100_80GB_HBM3") == "H100 SXM"


def test_it_keeps_l40s_and_l4_apart():
    assert canonical_model("NVIDIA L40S") == "L40S"
    assert canonical_model("NVIDIA L4") == "L4"
    assert canonical_model("NVIDIA L40") is None


def test_it_keeps_a10g_a10_and_a100_apart():
    assert canonical_model("NVIDIA A10G") == "A10G"
    assert canonical_model("NVIDIA A10") == "A10"
    assert canonical_model("NVIDIA A100-SXM4-80GB") == "A100 80GB"


def test_it_does_not_read_gh200_as_h200():
    assert canonical_model("NVIDIA GH200 480GB") is None


def test_a_mig_slice_is_priced_as_its_whole_card():
    assert canonical_model("NVIDIA A100-SXM4-80GB MIG 3g.40gb") == "A100 80GB"
    assert canonical_model("NVIDIA H100 NVL MIG 1g.12gb") == "H100 NVL"


@pytest.mark.parametrize(
    "name", ["NVIDIA A100", "NVIDIA H100", "NVIDIA B200", "Quadro RTX 6000", "", "cpu"]
)
def test_an_unknown_or_ambiguous_name_maps_to_none(name):
    assert canonical_model(name) is None


def test_the_default_catalog_loads_with_typed_values():
    rows = load_default_prices()
    assert rows
    for row in rows:
        assert row["gpu_model"] in CANONICAL_MODELS
        assert row["kind"] in PRICE_KINDS
        assert isinstance(row["usd_per_gpu_hour"], Decimal)
        assert isinstance(row["valid_from"], date)


def test_every_canonical_model_has_an_on_demand_price():
    priced = {row["gpu_model"] for row in load_default_prices() if row["kind"] == "on_demand"}
    assert priced == set(CANONICAL_MODELS)


def test_every_price_is_a_plausible_hourly_rate():
    for row in load_default_prices():
        assert Decimal(0) < row["usd_per_gpu_hour"] < Decimal(100), row


def test_no_price_is_listed_twice_for_the_same_model_kind_and_date():
    keys = Counter((r["gpu_model"], r["kind"], r["valid_from"]) for r in load_default_prices())
    assert [key for key, count in keys.items() if count > 1] == []


def test_every_price_names_its_source():
    assert all(str(row["source"]).strip() for row in load_default_prices())


def test_no_price_is_dated_in_the_future():
    assert all(row["valid_from"] <= date.today() for row in load_default_prices())


def test_discounted_prices_are_below_on_demand():
    rows = load_default_prices()
    on_demand = {r["gpu_model"]: r["usd_per_gpu_hour"] for r in rows if r["kind"] == "on_demand"}
    for row in rows:
        if row["kind"] != "on_demand":
            assert row["usd_per_gpu_hour"] < on_demand[row["gpu_model"]], row


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("B200,on_demand,5.00,2026-01-01,x\n", "unknown gpu_model 'B200'"),
        ("T4,preemptible,0.10,2026-01-01,x\n", "unknown kind 'preemptible'"),
        ("T4,spot,cheap,2026-01-01,x\n", "bad price or date"),
        ("T4,spot,0.10,01/01/2026,x\n", "bad price or date"),
        ("T4,spot,0.12345,2026-01-01,x\n", "at most 4 decimals"),
        ("T4,spot,0,2026-01-01,x\n", "price must be > 0"),
        ("T4,spot,0.10,2026-01-01,\n", "source is empty"),
    ],
)
def test_a_bad_row_is_rejected_with_its_line_number(tmp_path: Path, line, message):
    path = tmp_path / "prices.csv"
    path.write_text(HEADER + "T4,on_demand,0.35,2026-01-01,ok\n" + line)
    with pytest.raises(ValueError, match="prices.csv line 3") as excinfo:
        load_default_prices(path)
    assert message in str(excinfo.value)


def test_a_file_with_other_columns_is_rejected(tmp_path: Path):
    path = tmp_path / "prices.csv"
    path.write_text("model,price\nT4,0.35\n")
    with pytest.raises(ValueError, match="columns must be"):
        load_default_prices(path)
