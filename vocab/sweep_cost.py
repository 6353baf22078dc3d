"""$ per 1M tokens of a measured point. Plain Python: the server prices stored points
with it from its price catalog, and the CLI with --usd-per-hour."""

from typing import Any


def usd_per_1m(
    point: dict[str, Any], usd_per_hour: float, usd_per_kwh: float = 0.0, pue: float = 1.0
) -> tuple[float, float] | None:
    """($ per 1M tokens, prompt + generated; $ per 1M generated tokens) for a GPU billed
    `usd_per_hour`, plus the measured energy at `usd_per_kwh` x PUE for on-premises
    prices. The time billed is one request's: prefill plus every decode step."""
    if point.get("status") != "ok" or not point.get("request_ms"):
        return None
    b, p, g = point["batch_size"], point["prompt_len"], point["gen_len"]
    usd = usd_per_hour * point["request_ms"] / 1000 / 3600
    energy = point.get("energy_j_per_token")
    if usd_per_kwh and energy is not None:
        usd += usd_per_kwh * pue * energy * b * (p + g) / 3.6e6
    return usd / (b * (p + g)) * 1e6, usd / (b * g) * 1e6
