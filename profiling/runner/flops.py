"""FLOPs and bytes moved per request, counted the way MFU and MBU are usually reported.

A multiply-add is 2 FLOPs. Counted: every matmul of the projections and the MLP,
attention scores and their weighted sum (only the causal half during prefill: the
model's FLOPs, not what a kernel that ignores the mask spends), and the LM head for
the one position whose logits are used. Not counted: norms, rotary embeddings,
softmax and activations, a fraction of a percent at these shapes.
"""

from vocab.presets import ModelConfig


def linear_flops_per_token(c: ModelConfig) -> int:
    return 2 * c.n_layers * c.linear_params_per_layer()


def head_flops(c: ModelConfig) -> int:
    return 2 * c.d_model * c.vocab


def prefill_flops(c: ModelConfig, batch: int, prompt: int) -> int:
    """One prefill of `prompt` tokens for `batch` sequences, logits for the last position."""
    # Query i attends to keys 0..i: P(P+1)/2 pairs, each 2d for QK^T and 2d for AV.
    attention = c.n_layers * 2 * c.d_model * prompt * (prompt + 1)
    return batch * (prompt * linear_flops_per_token(c) + attention + head_flops(c))


def decode_step_flops(c: ModelConfig, batch: int, context: int) -> int:
    """One decode step whose new token attends to `context` keys (itself included)."""
    attention = c.n_layers * 4 * c.d_model * context
    return batch * (linear_flops_per_token(c) + attention + head_flops(c))


def decode_flops(c: ModelConfig, batch: int, prompt: int, gen: int) -> int:
    """The gen - 1 decode steps after prefill produced the first token."""
    return sum(decode_step_flops(c, batch, prompt + 1 + j) for j in range(gen - 1))


def decode_bytes(
    c: ModelConfig, weight_bytes: int, kv_elem_bytes: int, batch: int, prompt: int, gen: int
) -> int:
    """Bytes read and written by the gen - 1 decode steps.

    Each step reads every weight once (`weight_bytes`: the stored size, so int8
    weights count one byte) and the whole KV cache so far, and writes one new
    key and value per layer and sequence.
    """
    kv_per_token = 2 * c.n_layers * c.kv_dim * kv_elem_bytes
    total = 0
    for j in range(gen - 1):
        context = prompt + 1 + j
        total += weight_bytes + batch * kv_per_token * context
    return total


def kv_cache_bytes(c: ModelConfig, batch: int, length: int, kv_elem_bytes: int) -> int:
    return 2 * c.n_layers * batch * length * c.kv_dim * kv_elem_bytes
