"""The sweep spec: one validation for the CLI, the agent and the server."""

import pytest

from vocab.sweeps import MAX_POINTS, SpecError, SweepSpec


def errors_of(data) -> dict[str, str]:
    with pytest.raises(SpecError) as caught:
        SweepSpec.from_dict(data)
    return {e["field"]: e["message"] for e in caught.value.errors}


def test_a_spec_round_trips_and_orders_points_so_one_model_serves_each_group():
    spec = SweepSpec.from_dict(
        {"preset": "1b", "batch_sizes": "32,1,8", "dtypes": ["bf16", "fp16"], "compile": "off,on"}
    )
    assert spec.batch_sizes == (1, 8, 32)
    assert SweepSpec.from_dict(spec.to_dict()) == spec
    settings = spec.settings()
    assert len(settings) == 3 * 2 * 2
    assert [(s.dtype, s.compile, s.batch_size) for s in settings[:4]] == [
        ("bf16", False, 1), ("bf16", False, 8), ("bf16", False, 32), ("bf16", True, 1),
    ]  # fmt: skip
    assert settings[3].label() == "bf16 auto compiled"


def test_every_bad_field_is_named():
    errors = errors_of(
        {
            "preset": "70b",
            "batch_sizes": [0, "x"],
            "gen_lens": [1],
            "dtypes": ["fp8"],
            "attentions": [],
            "compile": ["maybe"],
            "repeats": 0,
            "warmup": True,
            "memory_limit_bytes": 5,
            "colour": "red",
        }
    )
    assert set(errors) == {
        "preset", "batch_sizes", "gen_lens", "dtypes", "attentions", "compile", "repeats",
        "warmup", "memory_limit_bytes", "colour",
    }  # fmt: skip
    assert "Unknown preset '70b'" in errors["preset"]
    assert errors["colour"] == "Unknown setting."


def test_exactly_one_model_source_and_an_absolute_path():
    assert "exactly one" in errors_of({})["preset"]
    assert "exactly one" in errors_of({"preset": "tiny", "model_path": "/m"})["preset"]
    assert "absolute" in errors_of({"model_path": "models/x.pt"})["model_path"]
    assert "Expected a JSON object" in errors_of([1, 2])[""]


def test_a_sweep_past_the_point_limit_is_refused():
    huge = {"preset": "tiny", "batch_sizes": list(range(1, 65)), "prompt_lens": [1, 2, 3, 4, 5]}
    assert f"at most {MAX_POINTS}" in errors_of(huge)[""]
