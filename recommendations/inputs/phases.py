"""What a deployment paid to compute its prompts: the prefill dollars of the economics
app's hourly phase split, over the served hours where the server timed its phases."""

from dataclasses import dataclass

from costs.economics.phases import MODEL
from costs.economics.selectors import deployment_economics_series
from recommendations.context import Context


@dataclass(frozen=True)
class PrefillPrice:
    """What a deployment paid to compute its prompts, in the hours it served."""

    prefill_usd: float
    computed: int  # prompt tokens not served from the cache
    hours: int
    share: float  # of those hours' dollars

    @property
    def per_token(self) -> float:
        return self.prefill_usd / self.computed

    @property
    def per_million(self) -> float:
        return self.per_token * 1e6


def prefill_prices(ctx: Context, ids: list[int], min_hours: int) -> dict[int, PrefillPrice]:
    """Per deployment, prefill $ per prompt token computed over its served hours whose
    phase split was measured; none where fewer than `min_hours` were."""
    series = deployment_economics_series(ctx.start, ctx.end, 3600, ids)
    out: dict[int, PrefillPrice] = {}
    for dep_id, hours in series.items():
        measured = [
            f
            for f in hours.values()
            if f.prompt_tokens > f.cache_hits and f.bases and MODEL not in f.bases
        ]
        if len(measured) < min_hours:
            continue
        # Active dollars only: the idle-held part of an hour computed no prompt.
        prefill = sum(f.active_prefill_usd for f in measured)
        cost = sum(float(f.cost_usd - f.idle_held_usd) for f in measured)
        computed = sum(f.prompt_tokens - f.cache_hits for f in measured)
        if prefill > 0 and cost > 0:
            out[dep_id] = PrefillPrice(prefill, computed, len(measured), prefill / cost)
    return out
