"""Rule 5: a sweep that shows another attention kernel or torch.compile serving more
tokens/s within the latency targets means the same traffic fits on less GPU time."""

from collectors.models import Deployment, DeploymentSettings
from recommendations.choices import Confidence
from recommendations.inputs.sweeps import KERNELS, Comparison, Setting
from recommendations.rules import register
from recommendations.rules.base import SweepRule, latency_text, speedup_text


@register
class Kernels(SweepRule):
    """Compares the served attention backend and torch.compile with the others the
    deployment's latest finished profiling sweep measured, dtype and quant held equal.

    Silent where the deployment's attention or compiled is unknown (blank in its
    settings), without a linked sweep, or where the sweep has no point at the served
    setting next to another of the same shape and batch size.

    N is read as in the precision rule: at the point nearest the served load, else
    the median over comparable pairs; the saving is the window's cost x (1 - 1/N).

    Config: `min_speedup` (1.1): N below this says nothing; `min_cost_hours` (24):
    fewer priced hours of the deployment in the window say nothing; `full_share`
    (0.9): the share of the window's hours needed for HIGH confidence.
    """

    name = "kernels"
    axis = KERNELS

    def label(self, setting: Setting) -> str:
        attention, compiled = setting
        return f"{attention} attention{', compiled' if compiled else ''}"

    def _change(self, deployment: Deployment, c: Comparison) -> str:
        (attention, compiled), (now_attention, now_compiled) = c.proposed, c.current
        compile_verb = "Enable" if compiled else "Disable"
        if attention == now_attention:
            return f"{compile_verb} torch.compile on {deployment.name}"
        change = f"Use {attention} attention on {deployment.name} instead of {now_attention}"
        if compiled != now_compiled:
            change += f" and {compile_verb.lower()} torch.compile"
        return change

    def title(self, deployment: Deployment, c: Comparison) -> str:
        return self._change(deployment, c).split(" instead of ")[0]

    def action(self, deployment: Deployment, c: Comparison, settings: DeploymentSettings) -> str:
        return (
            f"{self._change(deployment, c)}: profiling job #{c.job.pk} shows"
            f" {speedup_text(c.speedup)}x tokens/s at {latency_text(c.pair.proposed, settings)}."
        )

    def confidence(self, c: Comparison, full_week: bool) -> tuple[Confidence, str]:
        # Kernels change speed, not the model's outputs (beyond float rounding), so
        # the measured ratio is the only doubt.
        if not full_week:
            return Confidence.MEDIUM, "the deployment's cost covers only part of the window"
        return Confidence.HIGH, "measured by a sweep of this deployment, over a full window"
