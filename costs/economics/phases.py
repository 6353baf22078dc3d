"""How much of a deployment's GPU time went to prefill and how much to decode.

Three sources, best first:

- ``forward``: TGI times every batch it runs by phase (``tgi_batch_inference_duration``
  by ``method``): GPU seconds, so the split is their ratio.
- ``request``: vLLM times each request's prefill and decode phases
  (``vllm:request_prefill_time_seconds``, ``…_decode_time_seconds``): request-seconds.
  A decode step serves every running request at once, so decode request-seconds are
  divided by the average batch, (prefill + decode request-seconds) / busy seconds
  (Little's law); a prefill is taken to run alone.
- ``model``: no timings: a generated token costs COST_DECODE_TOKEN_WEIGHT prompt
  tokens (decode is memory-bound; hosted APIs price output 3-5x input).
"""

from dataclasses import dataclass

from django.conf import settings

FORWARD = "forward"
REQUEST = "request"
MODEL = "model"
MIXED = "mixed"  # measured, but hours (or deployments) by different methods
BASIS_LABELS = {
    FORWARD: "measured (GPU time of each phase's batches)",
    REQUEST: "measured (request time in each phase, over the average batch)",
    MODEL: "modelled (a generated token weighs COST_DECODE_TOKEN_WEIGHT prompt tokens)",
    MIXED: "measured (GPU time by phase for some servers, request time for others)",
}


@dataclass(frozen=True)
class PhaseInput:
    server_kind: str
    prefill_s: float
    decode_s: float
    active_s: float
    prompt_tokens: int
    generation_tokens: int


def prefill_share(p: PhaseInput) -> tuple[float, str] | None:
    """(prefill's fraction of the GPU time, basis), or None with nothing to go on."""
    if p.prefill_s > 0 or p.decode_s > 0:
        if p.server_kind == "tgi":
            return p.prefill_s / (p.prefill_s + p.decode_s), FORWARD
        busy = p.active_s if p.active_s > 0 else None
        decode = p.decode_s
        if busy:
            batch = max(1.0, (p.prefill_s + p.decode_s) / busy)
            decode = p.decode_s / batch
        if p.prefill_s + decode > 0:
            return p.prefill_s / (p.prefill_s + decode), REQUEST
    weighted = p.prompt_tokens + settings.COST_DECODE_TOKEN_WEIGHT * p.generation_tokens
    if weighted <= 0:
        return None
    return p.prompt_tokens / weighted, MODEL
