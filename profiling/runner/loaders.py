"""What the sweep runs: a built-in preset, a TorchScript file or a Hugging Face folder,
behind one small interface (prefill, then decode steps on a cache).

A user's model is only ever read from a local path; nothing is downloaded.
"""

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from profiling.runner.model import KVCache, Transformer, build
from profiling.runner.quant import quantize_int8
from vocab.presets import PRESETS, ModelConfig

DTYPES = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}


class LoadError(Exception):
    """The model cannot be loaded; the message is shown to the user as is."""


@dataclass
class Loaded:
    """A model ready to time. `config` is None when its shape is unknown (TorchScript):
    FLOPs then fall back to 2 x parameters per token."""

    name: str
    module: nn.Module
    config: ModelConfig | None
    kind: str  # "preset", "torchscript" or "huggingface"
    info: dict[str, Any] = field(default_factory=dict)

    def _tensors(self) -> list[torch.Tensor]:
        unique: dict[int, torch.Tensor] = {}
        for tensor in [*self.module.parameters(), *self.module.buffers()]:
            unique.setdefault(id(tensor), tensor)
        return list(unique.values())

    def params(self) -> int:
        if self.config is not None:
            return self.config.params()
        return sum(t.numel() for t in self._tensors() if t.dtype != torch.int8 or t.dim() > 1)

    def weight_bytes(self) -> int:
        """Bytes a decode step reads: every weight once, in its stored dtype (int8
        counts one byte), except an untied embedding table, of which a step reads
        one row per sequence."""
        embedding = getattr(self.module, "embed", None)
        tied = self.config is not None and self.config.tied_embeddings
        skip = id(embedding.weight) if isinstance(embedding, nn.Embedding) and not tied else None
        return sum(t.numel() * t.element_size() for t in self._tensors() if id(t) != skip)

    def new_cache(self, batch: int, length: int, dtype: torch.dtype, device: torch.device) -> Any:
        if self.kind == "preset":
            assert self.config is not None
            return KVCache(self.config, batch, length, dtype, device)
        return None

    def prefill(self, tokens: torch.Tensor, cache: Any) -> tuple[torch.Tensor, Any]:
        if self.kind == "preset":
            return self.module(tokens, cache, 0, last_only=True)[:, -1], cache
        if self.kind == "huggingface":
            # Logits for the last position only, as a server computes them: all
            # positions of a long batch would cost GBs of memory the server never spends.
            keep = {"logits_to_keep": 1} if self.info.get("logits_to_keep") else {}
            out = self.module(input_ids=tokens, use_cache=True, **keep)
            return out.logits[:, -1], out.past_key_values
        return self.module(tokens)[:, -1], tokens  # TorchScript: no cache, keeps the ids

    def decode(self, token: torch.Tensor, cache: Any, position: int) -> tuple[torch.Tensor, Any]:
        if self.kind == "preset":
            return self.module(token, cache, position)[:, -1], cache
        if self.kind == "huggingface":
            out = self.module(input_ids=token, past_key_values=cache, use_cache=True)
            return out.logits[:, -1], out.past_key_values
        ids = torch.cat([cache, token], dim=1)  # recomputes the whole sequence each step
        return self.module(ids)[:, -1], ids

    def prepare(self, length: int, device: torch.device) -> None:
        if isinstance(self.module, Transformer):
            self.module.ensure_rope(length, device)

    @property
    def vocab(self) -> int:
        """Token ids are drawn below this. A TorchScript file does not say its vocabulary:
        its first matrix, the embedding table in the usual layout, is taken for it."""
        if self.config is not None:
            return self.config.vocab
        first = next((t for t in self.module.parameters() if t.dim() == 2), None)
        return int(first.shape[0]) if first is not None else 2


def load(
    preset: str, path: str, dtype: str, quant: str, device: torch.device, seed: int = 0
) -> Loaded:
    torch_dtype = DTYPES[dtype]
    if preset:
        config = PRESETS[preset]
        module: nn.Module = build(config, torch_dtype, device, seed)
        loaded = Loaded(preset, module, config, "preset", {"source": config.source})
    else:
        loaded = _load_path(Path(path), torch_dtype, device)
    if quant == "int8":
        loaded.info["int8_layers"] = quantize_int8(loaded.module)
    return loaded


def _load_path(path: Path, dtype: torch.dtype, device: torch.device) -> Loaded:
    if not path.exists():
        raise LoadError(f"{path} does not exist on this node")
    if path.is_dir():
        if not (path / "config.json").exists():
            raise LoadError(f"{path} is a folder without config.json: not a Hugging Face model")
        try:
            import transformers
        except ImportError:
            raise LoadError(
                "loading a Hugging Face folder needs `transformers` installed"
            ) from None
        # 4.56 renamed torch_dtype to dtype; older releases would ignore `dtype`.
        major, minor = (int(x) for x in transformers.__version__.split(".")[:2])
        key = "dtype" if (major, minor) >= (4, 56) else "torch_dtype"
        module = transformers.AutoModelForCausalLM.from_pretrained(
            str(path), local_files_only=True, **{key: dtype}
        )
        module = module.to(device)  # type: ignore[arg-type]  # a wrong stub in transformers
        module.eval()
        config = _config_from_hf(json.loads((path / "config.json").read_text()), path.name)
        info = {"source": str(path), "logits_to_keep": (major, minor) >= (4, 50)}
        return Loaded(path.name, module, config, "huggingface", info)
    try:
        module = torch.jit.load(str(path), map_location=device)
    except (RuntimeError, ValueError) as exc:
        raise LoadError(f"{path} is not a TorchScript file: {str(exc).splitlines()[0]}") from None
    module = module.to(dtype) if dtype != torch.float32 else module
    module.eval()
    return Loaded(path.name, module, None, "torchscript", {"source": str(path)})


def _config_from_hf(cfg: dict[str, Any], name: str) -> ModelConfig | None:
    """The shape FLOPs are counted from, for the Llama-like configs most models share."""
    try:
        d = int(cfg["hidden_size"])
        heads = int(cfg["num_attention_heads"])
        return ModelConfig(
            name=name,
            vocab=int(cfg["vocab_size"]),
            d_model=d,
            n_layers=int(cfg["num_hidden_layers"]),
            n_heads=heads,
            n_kv_heads=int(cfg.get("num_key_value_heads") or heads),
            d_ff=int(cfg.get("intermediate_size") or 4 * d),
            mlp="swiglu" if cfg.get("hidden_act", "silu") in ("silu", "swish") else "gelu",
            tied_embeddings=bool(cfg.get("tie_word_embeddings", False)),
            source="config.json",
        )
    except (KeyError, TypeError, ValueError):
        return None
