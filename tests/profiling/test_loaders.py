"""A user's own model from a local path: TorchScript, or a Hugging Face folder."""

import pytest
import torch
from torch import nn

from profiling.runner.loaders import LoadError, load
from profiling.runner.sweep import run
from vocab.sweeps import SweepSpec

SHAPE = {"batch_sizes": [1, 2], "prompt_lens": [8], "gen_lens": [4], "warmup": 0, "repeats": 1}


class TinyLM(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.embed = nn.Embedding(100, 32)
        self.mix = nn.Linear(32, 32)
        self.head = nn.Linear(32, 100)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.head(torch.relu(self.mix(self.embed(tokens))))


def test_a_torchscript_file_runs_without_a_cache_and_counts_two_flops_per_parameter(tmp_path):
    path = tmp_path / "lm.pt"
    torch.jit.script(TinyLM()).save(str(path))
    result = run(SweepSpec.from_dict({"model_path": str(path), "device": "cpu", **SHAPE}), list)
    assert [p["status"] for p in result["points"]] == ["ok", "ok"]
    params = 100 * 32 + 32 * 32 + 32 + 32 * 100 + 100
    assert result["model"] == {"name": "lm.pt", "kind": "torchscript", "params": params,
                               "source": str(path)}  # fmt: skip
    point = result["points"][1]
    assert point["prefill_tflops"] == pytest.approx(
        2 * params * 2 * 8 / point["ttft_ms"] * 1e3 / 1e12
    )


def test_attention_backends_are_offered_for_presets_only(tmp_path):
    path = tmp_path / "lm.pt"
    torch.jit.script(TinyLM()).save(str(path))
    spec = SweepSpec.from_dict({"model_path": str(path), "attentions": ["math"], **SHAPE})
    points = run(spec, list)["points"]
    assert {p["status"] for p in points} == {"unsupported"}


@pytest.mark.slow  # a whole sweep on a real model: seconds even on the tiny preset
def test_a_hugging_face_folder_loads_from_disk_only(tmp_path):
    transformers = pytest.importorskip("transformers")
    config = transformers.LlamaConfig(
        vocab_size=128, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=64,
    )  # fmt: skip
    transformers.LlamaForCausalLM(config).save_pretrained(tmp_path / "llama-tiny")
    spec = SweepSpec.from_dict(
        {"model_path": str(tmp_path / "llama-tiny"), "quants": ["none", "int8"], **SHAPE}
    )
    result = run(spec, list)
    assert [p["status"] for p in result["points"]] == ["ok"] * 4
    model = result["model"]
    assert (model["kind"], model["layers"], model["kv_heads"], model["vocab"]) == (
        "huggingface", 2, 2, 128,
    )  # fmt: skip


def test_paths_that_are_not_models_say_why(tmp_path):
    cpu = torch.device("cpu")
    with pytest.raises(LoadError, match="does not exist on this node"):
        load("", str(tmp_path / "missing"), "fp32", "none", cpu)
    with pytest.raises(LoadError, match="without config.json"):
        load("", str(tmp_path), "fp32", "none", cpu)
    (tmp_path / "junk.pt").write_bytes(b"not a model")
    with pytest.raises(LoadError, match="is not a TorchScript file"):
        load("", str(tmp_path / "junk.pt"), "fp32", "none", cpu)
