from datetime import date, datetime, timedelta
from typing import Any

from django import forms
from django.core.validators import MaxLengthValidator

from anomaly.choices import AnomalyKind, AnomalyStatus, Severity
from anomaly.series import METRICS
from costs.selectors import ReportError, parse_grouping
from inferscope.lib.timerange import day_start

GROUPINGS = [
    ("deployment", "Deployment"),
    ("node", "Node"),
    ("gpu", "GPU"),
    ("label:team", "Label: team"),
    ("label:project", "Label: project"),
]


class CostReportForm(forms.Form):
    """The costs page's period (whole UTC days, the end day excluded) and grouping."""

    start = forms.DateField(
        input_formats=["%Y-%m-%d"], widget=forms.DateInput({"type": "date"}, "%Y-%m-%d")
    )
    end = forms.DateField(
        input_formats=["%Y-%m-%d"],
        widget=forms.DateInput({"type": "date"}, "%Y-%m-%d"),
        help_text="the day after the last, UTC",
    )
    by = forms.CharField(
        label="Group by", validators=[MaxLengthValidator(200)], widget=forms.Select
    )

    def __init__(self, data: dict[str, Any], label_keys: list[str]) -> None:
        super().__init__(data)
        choices = dict(GROUPINGS)
        for key in label_keys:
            choices.setdefault(f"label:{key}", f"Label: {key}")
        # A label no deployment has any more still groups its old costs; keep it selected.
        asked = str(data.get("by", ""))
        if asked.startswith("label:") and asked[6:].strip():
            choices.setdefault(asked, f"Label: {asked[6:]}")
        self.fields["by"].widget.choices = list(choices.items())

    @staticmethod
    def defaults(today: date) -> dict[str, str]:
        """This UTC month to date, by deployment."""
        end = today + timedelta(days=1)
        return {
            "start": today.replace(day=1).isoformat(),
            "end": end.isoformat(),
            "by": "deployment",
        }

    def clean_by(self) -> str:
        by: str = self.cleaned_data["by"]
        try:
            parse_grouping(by)
        except ReportError as exc:
            raise forms.ValidationError(str(exc)) from None
        return by

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        start, end = cleaned.get("start"), cleaned.get("end")
        if start and end and end <= start:
            self.add_error("end", "The end must be after the start.")
        return cleaned

    def period(self) -> tuple[datetime, datetime, str]:
        data = self.cleaned_data
        return day_start(data["start"]), day_start(data["end"]), data["by"]


class AnomalyFilterForm(forms.Form):
    status = forms.ChoiceField(choices=[("", "any"), *AnomalyStatus.choices], required=False)
    severity = forms.ChoiceField(choices=[("", "any"), *Severity.choices], required=False)
    kind = forms.ChoiceField(choices=[("", "any"), *AnomalyKind.choices], required=False)
    metric = forms.ChoiceField(
        choices=[("", "any"), *((name, name) for name in sorted(METRICS))], required=False
    )
