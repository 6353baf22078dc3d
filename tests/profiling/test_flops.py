"""FLOP and byte counts, checked against a hand count and against torch's own counter."""

import torch
from torch.nn.attention import SDPBackend, sdpa_kernel
from torch.utils.flop_counter import FlopCounterMode

from profiling.runner import flops
from profiling.runner.loaders import load
from profiling.runner.model import KVCache
from vocab.presets import PRESETS

TINY = PRESETS["tiny"]  # d=64, 2 layers, 4 heads, 2 KV heads (kv dim 32), ff 128, vocab 512


def test_tiny_preset_flops_match_a_hand_count():
    # Per layer and token: q and o 64x64 each, k and v 64x32 each, gate/up/down 64x128:
    # 4096 + 4096 + 2048 + 2048 + 3 * 8192 = 36,864 multiply-adds = 73,728 FLOPs.
    # Two layers: 147,456 FLOPs per token. LM head: 64 x 512 x 2 = 65,536.
    assert flops.linear_flops_per_token(TINY) == 147_456
    assert flops.head_flops(TINY) == 65_536
    # Prefill of 4 tokens, batch 2: linears 4 x 147,456 = 589,824; causal attention
    # has 1+2+3+4 = 10 query-key pairs, each 2 x 64 (QK) + 2 x 64 (AV) = 256 FLOPs,
    # per layer: 2,560, two layers: 5,120; head once: 65,536. Sum 660,480, x2 sequences.
    assert flops.prefill_flops(TINY, batch=2, prompt=4) == 2 * 660_480
    # A decode step at context 5: 147,456 + 2 layers x 4 x 64 x 5 + 65,536 = 215,552.
    assert flops.decode_step_flops(TINY, batch=1, context=5) == 215_552
    # gen 3 after a 4-token prompt: two steps, at context 5 and 6.
    assert flops.decode_flops(TINY, 1, 4, 3) == 215_552 + 215_552 + 2 * 4 * 64


def counted_flops(model, tokens: torch.Tensor, cache: KVCache, start: int) -> int:
    counter = FlopCounterMode(display=False)
    # The math backend runs attention as matmuls, which the counter sees.
    with torch.inference_mode(), sdpa_kernel(SDPBackend.MATH), counter:
        model(tokens, cache, start, last_only=True)
    return counter.get_total_flops()


def test_prefill_and_decode_flops_agree_with_torchs_flop_counter():
    cpu = torch.device("cpu")
    model = load("tiny", "", "fp32", "none", cpu).module
    model.ensure_rope(16, cpu)
    cache = KVCache(TINY, 2, 16, torch.float32, cpu)
    first = torch.zeros(2, 1, dtype=torch.long)
    assert counted_flops(model, first, cache, 0) == flops.prefill_flops(TINY, batch=2, prompt=1)
    # A decode step at position 4 attends to 5 keys (the math kernel does exactly that).
    step = counted_flops(model, first, cache, 4)
    assert step == flops.decode_step_flops(TINY, batch=2, context=5)


def test_decode_bytes_count_weights_once_per_step_and_the_growing_cache():
    weight_bytes = 1_000
    # kv per token: 2 (k and v) x 2 layers x 32 x 2 bytes = 256 bytes.
    moved = flops.decode_bytes(TINY, weight_bytes, 2, batch=3, prompt=10, gen=3)
    assert moved == (1_000 + 3 * 256 * 11) + (1_000 + 3 * 256 * 12)
    assert flops.kv_cache_bytes(TINY, batch=3, length=13, kv_elem_bytes=2) == 3 * 13 * 256


def test_int8_weights_count_one_byte_each_in_bandwidth():
    cpu = torch.device("cpu")
    plain = load("tiny", "", "bf16", "none", cpu)
    quantized = load("tiny", "", "bf16", "int8", cpu)
    linear = TINY.n_layers * TINY.linear_params_per_layer()
    # The linears drop from 2 bytes to 1 per weight, plus one bf16 scale per output row.
    scales = TINY.n_layers * (TINY.d_model * 2 + TINY.kv_dim * 2 + TINY.d_ff * 2 + TINY.d_model)
    assert plain.weight_bytes() - quantized.weight_bytes() == linear - 2 * scales
