"""Rule 4: a sweep that shows another precision serving more tokens/s within the
latency targets means the same traffic fits on less GPU time: switch to it."""

from collectors.models import Deployment, DeploymentSettings
from recommendations.choices import Confidence
from recommendations.inputs.sweeps import PRECISION, Comparison, Setting
from recommendations.rules import register
from recommendations.rules.base import SweepRule, latency_text, speedup_text


@register
class Precision(SweepRule):
    """Compares the served dtype/quant with the others the deployment's latest
    finished profiling sweep measured, attention and compiled held equal.

    Silent where the deployment's dtype or quant is unknown (blank in its settings),
    without a linked sweep, or where the sweep has no point at the served setting
    next to one at another precision of the same shape and batch size.

    N is read at the sweep point nearest the served load (request shape, then
    batch size against the window's mean concurrency); without traffic histograms
    it is the median ratio over all comparable pairs. The saving is the window's
    cost x (1 - 1/N): the same tokens on 1/N of the GPU time.

    Config: `min_speedup` (1.1): N below this says nothing; `min_cost_hours` (24):
    fewer priced hours of the deployment in the window say nothing; `full_share`
    (0.9): the share of the window's hours needed for HIGH confidence.
    """

    name = "precision"
    axis = PRECISION

    def label(self, setting: Setting) -> str:
        dtype, quant = setting
        return f"{dtype} with int8 weights" if quant == "int8" else str(dtype)

    def title(self, deployment: Deployment, c: Comparison) -> str:
        return f"Serve {deployment.name} in {self.label(c.proposed)}"

    def action(self, deployment: Deployment, c: Comparison, settings: DeploymentSettings) -> str:
        return (
            f"Serve {deployment.name} in {self.label(c.proposed)} instead of"
            f" {self.label(c.current)}: profiling job #{c.job.pk} shows"
            f" {speedup_text(c.speedup)}x tokens/s at {latency_text(c.pair.proposed, settings)}."
        )

    def confidence(self, c: Comparison, full_week: bool) -> tuple[Confidence, str]:
        if c.proposed[1] == "int8" and c.current[1] != "int8":
            return Confidence.MEDIUM, (
                "int8 weights change the model's outputs: check its quality on your own"
                " evaluation before switching"
            )
        if not full_week:
            return Confidence.MEDIUM, "the deployment's cost covers only part of the window"
        return Confidence.HIGH, "measured by a sweep of this deployment, over a full window"
