"""The Profiling pages' forms: queue a sweep, and the latency target to judge it by.

The sweep form only collects and shapes input: `SweepSpec.from_dict` (through
`job_create`) is the one check of a sweep, and its field errors land back on
this form's fields.
"""

from collections.abc import Mapping, MutableMapping, Sequence
from typing import Any

from django import forms
from django.http import QueryDict

from collectors.models import Deployment, Node
from profiling.models import ProfilingCapability
from profiling.records import Capability
from profiling.selectors import Shape
from vocab.presets import PRESETS
from vocab.sweeps import ATTENTIONS, DEVICES, DTYPES, QUANTS, SweepSpec

COMPILE_CHOICES = [("off", "eager"), ("on", "torch.compile")]
DEFAULTS = SweepSpec()
# A service error on a spec field this form does not show lands above the form.
SPEC_FIELDS = {
    "preset",
    "model_path",
    "device",
    "batch_sizes",
    "prompt_lens",
    "gen_lens",
    "dtypes",
    "quants",
    "attentions",
    "compile",
    "repeats",
}


def _ints(values: Sequence[int]) -> str:
    return ", ".join(str(v) for v in values)


def node_label(capability: ProfilingCapability) -> str:
    """The node and its devices; the table above the form lists the rest it allows."""
    allowed = capability.allowed()
    if allowed is None:
        return f"{capability.node.name} (unreadable capability)"
    gpus = [name for name, _ in allowed.gpus]
    return f"{capability.node.name} ({f'{len(gpus)} × {gpus[0]}' if gpus else 'CPU only'})"


class ProfilingJobForm(forms.Form):
    node = forms.ChoiceField()
    name = forms.CharField(max_length=200, required=False)
    deployment = forms.ModelChoiceField(
        queryset=Deployment.objects.select_related("node").order_by("node__name", "name"),
        required=False,
        empty_label="— none",
        help_text="the served deployment this sweep stands for; recommendations compare the two",
    )
    preset = forms.ChoiceField(required=False, label="Built-in model")
    model_path = forms.CharField(max_length=1000, required=False, label="or model path on the node")
    batch_sizes = forms.CharField(max_length=500, initial=_ints((1, 4, 16)))
    prompt_lens = forms.CharField(
        max_length=500, initial=_ints(DEFAULTS.prompt_lens), label="Prompt lengths"
    )
    gen_lens = forms.CharField(
        max_length=500, initial=_ints(DEFAULTS.gen_lens), label="Generated lengths"
    )
    dtypes = forms.MultipleChoiceField(
        choices=[(d, d) for d in DTYPES],
        widget=forms.CheckboxSelectMultiple,
        required=False,
        initial=list(DEFAULTS.dtypes),
    )
    quants = forms.MultipleChoiceField(
        choices=[(q, q) for q in QUANTS],
        widget=forms.CheckboxSelectMultiple,
        required=False,
        initial=list(DEFAULTS.quants),
        label="Quantization",
    )
    attentions = forms.MultipleChoiceField(
        choices=[(a, a) for a in ATTENTIONS],
        widget=forms.CheckboxSelectMultiple,
        required=False,
        initial=list(DEFAULTS.attentions),
        label="Attention",
    )
    compile = forms.MultipleChoiceField(
        choices=COMPILE_CHOICES,
        widget=forms.CheckboxSelectMultiple,
        required=False,
        initial=["off"],
    )
    device = forms.ChoiceField(choices=[(d, d) for d in DEVICES], initial=DEFAULTS.device)
    repeats = forms.IntegerField(min_value=1, max_value=50, initial=DEFAULTS.repeats)

    def __init__(
        self, data: Mapping[str, Any] | None, capabilities: Sequence[ProfilingCapability]
    ) -> None:
        super().__init__(data)
        # Choices come from the capabilities the page already loaded: no query here.
        self._nodes = {str(c.node_id): c.node for c in capabilities}
        node_field = self.fields["node"]
        assert isinstance(node_field, forms.ChoiceField)
        node_field.choices = [(str(c.node_id), node_label(c)) for c in capabilities]
        allowed = {p for c in capabilities for p in (c.allowed() or Capability()).presets}
        preset_field = self.fields["preset"]
        assert isinstance(preset_field, forms.ChoiceField)
        preset_field.choices = [("", "— (use a model path)")] + [
            (name, f"{name}: {config.source}")
            for name, config in PRESETS.items()
            if name in allowed
        ]
        if allowed and not self.is_bound:
            self.initial["preset"] = next(name for name in PRESETS if name in allowed)

    def chosen_node(self) -> Node:
        return self._nodes[self.cleaned_data["node"]]

    def spec(self) -> dict[str, Any]:
        """The sweep as the API takes it; lists stay as typed for the spec to judge."""
        data = self.cleaned_data
        return {
            "preset": data["preset"],
            "model_path": data["model_path"].strip(),
            "device": data["device"],
            "batch_sizes": data["batch_sizes"],
            "prompt_lens": data["prompt_lens"],
            "gen_lens": data["gen_lens"],
            "dtypes": data["dtypes"],
            "quants": data["quants"],
            "attentions": data["attentions"],
            "compile": data["compile"],
            "repeats": data["repeats"],
        }

    def add_service_errors(self, errors: Sequence[Mapping[str, str]]) -> None:
        """`ProfilingError.errors` ("spec.batch_sizes", "node", ...) onto the fields."""
        for error in errors:
            field = error.get("field", "").removeprefix("spec.")
            target = field if field in SPEC_FIELDS or field in ("node", "deployment") else None
            self.add_error(target, error["message"])


def shape_value(shape: Shape) -> str:
    """A request shape in the URL: (128, 32) -> "128x32"."""
    return f"{shape[0]}x{shape[1]}"


def shape_text(shape: Shape) -> str:
    return f"prompt {shape[0]} · gen {shape[1]}"


class LatencyTargetForm(forms.Form):
    """The latency a setting must meet, and the request shape to judge settings at,
    from the URL. A blank target means none; a blank shape, the sweep's usual one."""

    itl_ms = forms.FloatField(
        required=False, min_value=0.001, max_value=1e7, label="Inter-token latency at most (ms)"
    )
    ttft_ms = forms.FloatField(
        required=False, min_value=0.001, max_value=1e7, label="Time to first token at most (ms)"
    )
    shape = forms.ChoiceField(required=False, label="Request shape")

    def __init__(self, data: Mapping[str, Any] | None, shapes: Mapping[Shape, int]) -> None:
        """shapes: the shapes measured, in the sweep's order, each with its number of
        measured points (`request_shapes`). The usual shape is the one with the most,
        the first of those that tie: settings are only compared at one shape."""
        self.usual: Shape | None = max(shapes, key=lambda s: shapes[s]) if shapes else None
        self._shapes = {shape_value(s): s for s in shapes}
        if data is not None and not data.get("shape") and self.usual:
            # The select shows the shape in use, not the browser's first option.
            filled: MutableMapping[str, Any] = (
                data.copy() if isinstance(data, QueryDict) else dict(data)
            )
            filled["shape"] = shape_value(self.usual)
            data = filled
        super().__init__(data)
        field = self.fields["shape"]
        assert isinstance(field, forms.ChoiceField)
        field.choices = [(value, shape_text(s)) for value, s in self._shapes.items()]
        if self.usual:
            self.initial["shape"] = shape_value(self.usual)

    @property
    def several_shapes(self) -> bool:
        return len(self._shapes) > 1

    def targets(self) -> dict[str, float | None]:
        if not self.is_valid():
            return {"itl_ms": None, "ttft_ms": None}
        return {"itl_ms": self.cleaned_data["itl_ms"], "ttft_ms": self.cleaned_data["ttft_ms"]}

    def chosen_shape(self) -> Shape | None:
        """The shape asked for; the usual one when none is, or the form is invalid."""
        if self.is_valid() and self.cleaned_data["shape"]:
            return self._shapes[self.cleaned_data["shape"]]
        return self.usual
