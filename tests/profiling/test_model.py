"""The built-in model: the KV cache decodes exactly what a full forward pass computes."""

import pytest
import torch

from profiling.runner.model import KVCache, build
from profiling.runner.quant import Int8Linear, quantize_int8
from vocab.presets import PRESETS

TINY = PRESETS["tiny"]
CPU = torch.device("cpu")


def decode_with_cache(model, tokens: torch.Tensor, prompt: int) -> torch.Tensor:
    """Logits for positions prompt-1 .. end, computed by prefill then one step at a time."""
    batch, length = tokens.shape
    cache = KVCache(TINY, batch, length, next(model.parameters()).dtype, CPU)
    model.ensure_rope(length, CPU)
    outs = [model(tokens[:, :prompt], cache, 0, last_only=True)[:, -1]]
    for pos in range(prompt, length):
        outs.append(model(tokens[:, pos : pos + 1], cache, pos)[:, -1])
    return torch.stack(outs, dim=1)


def full_forward(model, tokens: torch.Tensor, prompt: int) -> torch.Tensor:
    model.ensure_rope(tokens.shape[1], CPU)
    return model(tokens)[:, prompt - 1 :]


@pytest.mark.parametrize(("dtype", "tolerance"), [(torch.float32, 1e-5), (torch.bfloat16, 3e-2)])
def test_kv_cache_decode_equals_the_no_cache_forward_pass(dtype, tolerance):
    model = build(TINY, dtype, CPU, seed=1)
    tokens = torch.randint(0, TINY.vocab, (3, 20), generator=torch.Generator().manual_seed(2))
    with torch.inference_mode():
        cached = decode_with_cache(model, tokens, prompt=12).float()
        reference = full_forward(model, tokens, prompt=12).float()
    assert cached.shape == (3, 9, TINY.vocab)
    scale = reference.abs().max()
    assert (cached - reference).abs().max() <= tolerance * max(1.0, float(scale))


def test_grouped_kv_heads_give_the_same_answer_native_or_repeated():
    model = build(TINY, torch.float32, CPU, seed=3)
    assert TINY.n_heads != TINY.n_kv_heads  # the tiny preset exercises GQA
    tokens = torch.randint(0, TINY.vocab, (2, 10), generator=torch.Generator().manual_seed(4))
    with torch.inference_mode():
        model.set_native_gqa(True)
        native = decode_with_cache(model, tokens, prompt=6)
        model.set_native_gqa(False)
        repeated = decode_with_cache(model, tokens, prompt=6)
    torch.testing.assert_close(native, repeated)


def test_the_same_seed_builds_the_same_weights_and_tied_heads_share_one_tensor():
    a, b = build(TINY, torch.float32, CPU, seed=5), build(TINY, torch.float32, CPU, seed=5)
    assert all(torch.equal(x, y) for x, y in zip(a.parameters(), b.parameters(), strict=True))
    tied = build(PRESETS["125m"].__class__(**{**TINY.__dict__, "tied_embeddings": True}),
                 torch.float32, CPU)  # fmt: skip
    assert tied.lm_head.weight is tied.embed.weight


def test_parameter_count_matches_the_built_module():
    model = build(TINY, torch.float32, CPU)
    assert sum(p.numel() for p in model.parameters()) == TINY.params()


def test_published_shapes_have_their_published_sizes():
    # Llama 3.2 1B: 1.24B; Llama 2 7B: 6.74B; Llama 2 13B: 13.0B; OPT-125m: 125.2M
    # (ours has no biases or learned positions: 123.6M).
    assert PRESETS["1b"].params() == pytest.approx(1.236e9, rel=0.01)
    assert PRESETS["7b"].params() == pytest.approx(6.738e9, rel=0.01)
    assert PRESETS["13b"].params() == pytest.approx(13.016e9, rel=0.01)
    assert PRESETS["125m"].params() == pytest.approx(125.2e6, rel=0.02)


def test_int8_weights_stay_close_to_the_float_model():
    model = build(TINY, torch.float32, CPU, seed=6)
    tokens = torch.randint(0, TINY.vocab, (2, 16), generator=torch.Generator().manual_seed(7))
    with torch.inference_mode():
        before = full_forward(model, tokens, 1)
        replaced = quantize_int8(model)
        after = full_forward(model, tokens, 1)
    # 7 linears per block (q, k, v, o, gate, up, down); the LM head stays float.
    assert replaced == 7 * TINY.n_layers
    assert isinstance(model.blocks[0].mlp.up, Int8Linear)
    assert model.blocks[0].mlp.up.weight.dtype == torch.int8
    error = (after - before).abs().max() / before.abs().max()
    assert error < 0.02
