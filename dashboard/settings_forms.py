"""The deployment page's form: how a deployment is served and its latency targets,
which no metric reports and the recommendation rules need."""

from typing import Any

from django import forms
from django.core.validators import MaxValueValidator

from collectors.models import DeploymentSettings
from vocab.sweeps import ATTENTIONS

MAX_BATCH = 65536
MAX_TOKENS = 10_000_000
MAX_MS = 10_000_000  # about 3 hours: no latency target is longer


class TriState(forms.NullBooleanSelect):
    """On, off, or not known: a rule treats unknown as "cannot say"."""

    def __init__(self, on: str = "On", off: str = "Off") -> None:
        super().__init__()
        self.choices = [("unknown", "Unknown"), ("true", on), ("false", off)]


class DeploymentSettingsForm(forms.ModelForm):
    attention = forms.ChoiceField(required=False)

    class Meta:
        model = DeploymentSettings
        fields = [
            "dtype", "quant", "attention", "compiled", "max_batch", "prefix_caching",
            "shared_prefix_tokens", "interruptible", "slo_ttft_ms", "slo_itl_ms", "slo_e2e_ms",
        ]  # fmt: skip
        labels = {
            "dtype": "Precision",
            "quant": "Quantization",
            "compiled": "torch.compile",
            "max_batch": "Max batch",
            "prefix_caching": "Prefix caching",
            "shared_prefix_tokens": "Shared prefix tokens",
            "slo_ttft_ms": "TTFT p95 target (ms)",
            "slo_itl_ms": "Inter-token p95 target (ms)",
            "slo_e2e_ms": "End-to-end p95 target (ms)",
        }
        widgets = {
            "compiled": TriState("torch.compile", "eager"),
            "prefix_caching": TriState(),
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        attention = self.fields["attention"]
        assert isinstance(attention, forms.ChoiceField)
        choices = [("", "Unknown"), *((a, a) for a in ATTENTIONS)]
        current = self.instance.attention
        if current and current not in ATTENTIONS:
            choices.append((current, current))  # set in the admin: keep it, not refuse the form
        attention.choices = choices
        for name, top in (("max_batch", MAX_BATCH), ("shared_prefix_tokens", MAX_TOKENS)):
            self._limit(name, top)
        for name in ("slo_ttft_ms", "slo_itl_ms", "slo_e2e_ms"):
            self._limit(name, MAX_MS)

    def _limit(self, name: str, top: int) -> None:
        field = self.fields[name]
        field.validators.append(MaxValueValidator(top))
        field.widget.attrs["max"] = top
