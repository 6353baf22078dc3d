"""A decoder-only transformer (Llama-shaped) on scaled_dot_product_attention, with a KV cache.

The cache is allocated once per generate() call for prompt + generated tokens, as
serving engines do, so decode steps write in place and allocate nothing.
"""

import torch
import torch.nn.functional as F
from torch import nn

from vocab.presets import ModelConfig


class RMSNorm(nn.Module):
    def __init__(self, dim: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        variance = x.float().pow(2).mean(-1, keepdim=True)
        return (x.float() * torch.rsqrt(variance + self.eps)).type_as(x) * self.weight


def rope_tables(config: ModelConfig, length: int, device: torch.device) -> torch.Tensor:
    """cos and sin for every position, shape (2, length, head_dim / 2), in fp32."""
    half = config.head_dim // 2
    freqs = 1.0 / (10000.0 ** (torch.arange(half, device=device, dtype=torch.float32) / half))
    angles = torch.outer(torch.arange(length, device=device, dtype=torch.float32), freqs)
    return torch.stack([angles.cos(), angles.sin()])


def apply_rope(x: torch.Tensor, table: torch.Tensor) -> torch.Tensor:
    # x: (batch, heads, seq, head_dim); table: (2, seq, head_dim / 2)
    x1, x2 = x.float().chunk(2, dim=-1)
    cos, sin = table[0], table[1]
    return torch.cat([x1 * cos - x2 * sin, x1 * sin + x2 * cos], dim=-1).type_as(x)


class KVCache:
    """Keys and values of every layer, (layers, batch, kv_heads, length, head_dim) each."""

    def __init__(
        self, config: ModelConfig, batch: int, length: int, dtype: torch.dtype, device: torch.device
    ) -> None:
        shape = (config.n_layers, batch, config.n_kv_heads, length, config.head_dim)
        self.k = torch.empty(shape, dtype=dtype, device=device)
        self.v = torch.empty(shape, dtype=dtype, device=device)


class Attention(nn.Module):
    def __init__(self, config: ModelConfig, layer: int) -> None:
        super().__init__()
        self.config = config
        self.layer = layer
        self.q = nn.Linear(config.d_model, config.d_model, bias=False)
        self.k = nn.Linear(config.d_model, config.kv_dim, bias=False)
        self.v = nn.Linear(config.d_model, config.kv_dim, bias=False)
        self.o = nn.Linear(config.d_model, config.d_model, bias=False)
        # Set per backend by the runner: some SDPA kernels take grouped KV heads
        # directly, the others need them repeated.
        self.native_gqa = True

    def forward(
        self,
        x: torch.Tensor,
        table: torch.Tensor,
        cache: KVCache | None,
        start: int,
        causal: bool,
    ) -> torch.Tensor:
        c = self.config
        batch, seq, _ = x.shape
        q = self.q(x).view(batch, seq, c.n_heads, c.head_dim).transpose(1, 2)
        k = self.k(x).view(batch, seq, c.n_kv_heads, c.head_dim).transpose(1, 2)
        v = self.v(x).view(batch, seq, c.n_kv_heads, c.head_dim).transpose(1, 2)
        q, k = apply_rope(q, table), apply_rope(k, table)
        if cache is not None:
            cache.k[self.layer, :, :, start : start + seq] = k
            cache.v[self.layer, :, :, start : start + seq] = v
            k = cache.k[self.layer, :, :, : start + seq]
            v = cache.v[self.layer, :, :, : start + seq]
        groups = c.n_heads // c.n_kv_heads
        gqa = groups > 1
        if gqa and not self.native_gqa:
            k = k.repeat_interleave(groups, dim=1)
            v = v.repeat_interleave(groups, dim=1)
            gqa = False
        # Prefill attends causally within the prompt; one decode token attends to all
        # that is cached, which needs no mask.
        out = F.scaled_dot_product_attention(q, k, v, is_causal=causal, enable_gqa=gqa)
        return self.o(out.transpose(1, 2).reshape(batch, seq, c.d_model))


class MLP(nn.Module):
    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.swiglu = config.mlp == "swiglu"
        if self.swiglu:
            self.gate = nn.Linear(config.d_model, config.d_ff, bias=False)
        self.up = nn.Linear(config.d_model, config.d_ff, bias=False)
        self.down = nn.Linear(config.d_ff, config.d_model, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.swiglu:
            return self.down(F.silu(self.gate(x)) * self.up(x))
        return self.down(F.gelu(self.up(x)))


class Block(nn.Module):
    def __init__(self, config: ModelConfig, layer: int) -> None:
        super().__init__()
        self.attention_norm = RMSNorm(config.d_model)
        self.attention = Attention(config, layer)
        self.mlp_norm = RMSNorm(config.d_model)
        self.mlp = MLP(config)

    def forward(
        self,
        x: torch.Tensor,
        table: torch.Tensor,
        cache: KVCache | None,
        start: int,
        causal: bool,
    ) -> torch.Tensor:
        x = x + self.attention(self.attention_norm(x), table, cache, start, causal)
        return x + self.mlp(self.mlp_norm(x))


class Transformer(nn.Module):
    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        self.embed = nn.Embedding(config.vocab, config.d_model)
        self.blocks = nn.ModuleList(Block(config, i) for i in range(config.n_layers))
        self.norm = RMSNorm(config.d_model)
        self.lm_head = nn.Linear(config.d_model, config.vocab, bias=False)
        if config.tied_embeddings:
            self.lm_head.weight = self.embed.weight
        self.rope: torch.Tensor | None = None

    def ensure_rope(self, length: int, device: torch.device) -> None:
        """Rotary tables for `length` positions; called before any (compiled) forward."""
        if self.rope is None or self.rope.shape[1] < length or self.rope.device != device:
            self.rope = rope_tables(self.config, max(length, self.config.max_seq), device)

    def set_native_gqa(self, native: bool) -> None:
        for block in self.blocks:
            block.attention.native_gqa = native  # type: ignore[union-attr]

    def forward(
        self,
        tokens: torch.Tensor,
        cache: KVCache | None = None,
        start: int = 0,
        last_only: bool = False,
        causal: bool | None = None,
    ) -> torch.Tensor:
        """Logits for `tokens` placed at positions start.. (all of them, or the last).

        `causal` defaults to "more than one token". Under torch.compile with dynamic
        shapes that comparison is symbolic, which SDPA refuses: a graph break in every
        layer, then a recompilation per layer index. Compiled callers pass it.
        """
        seq = tokens.shape[1]
        if causal is None:
            causal = seq > 1
        assert self.rope is not None, "call ensure_rope() first"
        table = self.rope[:, start : start + seq]
        x = self.embed(tokens)
        for block in self.blocks:
            x = block(x, table, cache, start, causal)
        x = self.norm(x)
        if last_only:
            x = x[:, -1:]
        return self.lm_head(x)


def build(
    config: ModelConfig, dtype: torch.dtype, device: torch.device, seed: int = 0
) -> Transformer:
    """Random weights with a small spread, so bf16/fp16 activations stay finite.

    Made on the meta device and filled in place in the target dtype: a 13B model
    in bf16 never exists in fp32 first, which would not fit beside it on one GPU.
    """
    with torch.device("meta"):
        model = Transformer(config)
    model = model.to(dtype).to_empty(device=device)
    if config.tied_embeddings:  # to_empty gives each module its own tensor
        model.lm_head.weight = model.embed.weight
    generator = torch.Generator(device=device).manual_seed(seed)
    with torch.no_grad():
        for name, param in model.named_parameters():
            if name.endswith("norm.weight"):
                param.fill_(1.0)
            else:
                param.normal_(0.0, 0.02, generator=generator)
    return model.eval()
