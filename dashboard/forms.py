from collections.abc import Mapping
from typing import Any

from django import forms
from django.core.validators import MaxLengthValidator

from anomaly.choices import AnomalyKind, AnomalyStatus, Severity
from anomaly.series import METRICS
from api.choices import TokenScope
from costs.selectors import ReportError, parse_grouping

GROUPINGS = [
    ("deployment", "Deployment"),
    ("node", "Node"),
    ("gpu", "GPU"),
    ("label:team", "Label: team"),
    ("label:project", "Label: project"),
]


class CostGroupingForm(forms.Form):
    """How the costs page groups spend: by deployment, node, GPU or a label's values."""

    by = forms.CharField(
        label="Group by",
        validators=[MaxLengthValidator(200)],
        widget=forms.Select,
        required=False,
    )

    def __init__(self, data: Mapping[str, Any], label_keys: list[str]) -> None:
        super().__init__(data)
        choices = dict(GROUPINGS)
        for key in label_keys:
            choices.setdefault(f"label:{key}", f"Label: {key}")
        # A label no deployment has any more still groups its old costs; keep it selected.
        asked = str(data.get("by", ""))
        if asked.startswith("label:") and asked[6:].strip():
            choices.setdefault(asked, f"Label: {asked[6:]}")
        self.fields["by"].widget.choices = list(choices.items())

    def clean_by(self) -> str:
        by: str = self.cleaned_data["by"] or "deployment"
        try:
            parse_grouping(by)
        except ReportError as exc:
            raise forms.ValidationError(str(exc)) from None
        return by


class AnomalyFilterForm(forms.Form):
    status = forms.ChoiceField(choices=[("", "any"), *AnomalyStatus.choices], required=False)
    severity = forms.ChoiceField(choices=[("", "any"), *Severity.choices], required=False)
    kind = forms.ChoiceField(choices=[("", "any"), *AnomalyKind.choices], required=False)
    metric = forms.ChoiceField(
        choices=[("", "any"), *((name, name) for name in sorted(METRICS))], required=False
    )


class ApiTokenForm(forms.Form):
    """A personal API token: a name to tell it apart, and read or write.

    Ingest is not offered: that is the agents' scope, and their tokens are made with the
    agent (Settings, Agents)."""

    name = forms.CharField(
        max_length=100, widget=forms.TextInput(attrs={"placeholder": "what for, e.g. grafana"})
    )
    scope = forms.ChoiceField(choices=TokenScope.choices, initial=TokenScope.READ)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # The agent form on the same page has a `name` too: keep the ids apart.
        kwargs.setdefault("auto_id", "id_token_%s")
        super().__init__(*args, **kwargs)
